"""The local stand-in for Dify's plugin daemon.

``process`` drives the plugin over the daemon's stdio protocol and answers its app calls with the daemon's wording
and time limits, ``http`` turns HTTP requests into the daemon's ``raw_http_request`` (after Dify's nginx has had
its say) and words the daemon's own answers, ``server`` serves ``/e/<hook_id>/...`` as nginx and the daemon do,
and ``supervisor`` restarts a plugin that died.
"""
