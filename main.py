"""Entry point: Dify starts the plugin as ``python -m main``."""

import logging

from dify_plugin import DifyPluginEnv, Plugin
from dify_plugin.config.logger_format import plugin_logger_handler

# The relay's own log lines (failures it hides from clients) travel to the daemon like the SDK's.
logging.getLogger("relay").addHandler(plugin_logger_handler)
logging.getLogger("relay").setLevel(logging.INFO)

# The daemon kills an endpoint request after 600 s; give the plugin side the same room, so long
# streamed answers are not cut short by the SDK's 300 s default.
plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=600))

if __name__ == "__main__":
    plugin.run()
