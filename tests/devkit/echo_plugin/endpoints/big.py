"""Answers with ``size`` bytes in one piece, to show what the daemon does with a stdout line over 5 MiB."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class BigEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return Response(b"x" * int(values["size"]), status=200, content_type="application/octet-stream")
