"""The local stand-in for Dify's plugin daemon.

``process`` drives the plugin over the daemon's stdio protocol, ``http`` turns HTTP requests into the daemon's
``raw_http_request`` and its answers back, ``server`` serves ``/e/<hook_id>/...`` like the daemon does, and
``supervisor`` restarts a plugin that died.
"""
