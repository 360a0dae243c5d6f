"""``python -m devkit scaffold`` (``make scaffold``): make a copy of this plugin someone else's plugin.

``rename`` gives the plugin its new identity wherever it is named (the manifest, the endpoint group's file name and
its reference, the package names in the documents), ``minimal`` replaces the relay with one example endpoint and
removes what only the relay needs, ``command`` runs both on a plugin directory, validates the result with the
packaging rules and says what to do next.
"""
