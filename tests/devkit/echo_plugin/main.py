"""Entry point of the devkit's echo test plugin (``python -m main``)."""

import logging

from dify_plugin import DifyPluginEnv, Plugin
from dify_plugin.config.logger_format import plugin_logger_handler

logging.getLogger("echo").addHandler(plugin_logger_handler)
logging.getLogger("echo").setLevel(logging.INFO)

plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=120))

if __name__ == "__main__":
    plugin.run()
