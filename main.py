"""Entry point: Dify starts the plugin as ``python -m main``."""

from dify_plugin import DifyPluginEnv, Plugin

import relay.platform

# Before the Plugin exists: it binds the SDK's request handler when it is built.
relay.platform.prepare()

# MAX_REQUEST_TIMEOUT applies only when Dify runs the plugin serverless; over stdio (local and remote
# installs) the daemon's own limits rule: 600 s per request, 240 s per app call (see the README's limits).
plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=600))

if __name__ == "__main__":
    plugin.run()
