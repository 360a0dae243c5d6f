"""``python -m devkit package`` and its parts: a validated, reproducible ``.difypkg`` without the Go CLI.

``rules`` restates the daemon's manifest and declaration rules, ``validation`` runs them (and ``sdk_probe``, a
script run in a subprocess), ``ignore`` reads ``.difyignore``, ``archive`` writes the ZIP, ``sign`` and
``verify`` handle the third-party signature, ``problems`` is what they report, ``package`` is the command.
"""
