"""Demo apps that answer the plugin's app calls instead of Dify (``apps``), checked against ``tests/real_dify``."""
