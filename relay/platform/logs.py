"""The plugin log, with the details the SDK's own formatter drops.

The SDK writes only ``record.getMessage()`` to the daemon, so ``logger.exception`` would lose the exception's
type and traceback: exactly what an admin needs when a client was told "see the plugin log".
"""

import logging
import sys

from dify_plugin.config.logger_format import DifyPluginLoggerFormatter

MAX_LOG_CHARS = 64 * 1024
"""Longest log message the plugin writes (tracebacks included): one plugin message stays far below the
daemon's 5 MiB line whatever an exception holds."""


class DetailedFormatter(DifyPluginLoggerFormatter):
    """The SDK's log line, with the traceback folded into the message and the whole cut to a bound."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if len(message) > MAX_LOG_CHARS:
            message = message[:MAX_LOG_CHARS] + " … (cut)"
        folded = logging.makeLogRecord({**record.__dict__, "msg": message, "args": None, "exc_info": None})
        return super().format(folded)


def send_details_to_plugin_log(logger_name: str = "relay") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(DetailedFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
