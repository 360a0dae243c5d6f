"""Demo apps that answer the plugin's app calls instead of Dify.

``apps`` holds one app of each kind, ``events`` builds Dify's Service-API events, ``inputs`` checks an app's
inputs the way Dify does.
"""
