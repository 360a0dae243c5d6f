"""Demo apps that answer the plugin's app calls instead of Dify (``apps``); the recorded Dify they are checked
against plays in ``tests/real_dify``."""
