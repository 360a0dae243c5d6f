"""Writes one log record through the SDK's handler and one bare line to stdout, then answers "logged"."""

import logging
import sys
from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

logger = logging.getLogger("echo")


class LogEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        logger.info("hello from the echo plugin")
        sys.stdout.write("a bare line that is not JSON\n")
        sys.stdout.flush()
        return Response("logged", status=200, content_type="text/plain")
