"""Real Dify as it was recorded (``tests/fixtures/real_dify``): the recording's cases (``recording``) and a player
that answers the plugin's calls with the recorded apps (``player.RecordedDify``), to check the devkit's Dify against."""
