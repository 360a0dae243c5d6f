"""Demo apps that answer the plugin's app calls instead of Dify.

``apps`` holds one app of each kind, ``events`` fills in Dify's recorded events (``dify_events.json``), ``inputs``
checks an app's inputs the way Dify does, ``remote`` reads the files apps are given by URL. The recorded real Dify
they are checked against plays in ``tests/real_dify``.
"""
