"""Streams "abc" then "def" under a ``Content-Length`` the caller chooses, true or not."""

from collections.abc import Generator, Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class LengthEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        def body() -> Generator[bytes, None, None]:
            yield b"abc"
            yield b"def"

        response = Response(body(), status=200, content_type="text/plain")
        response.headers["Content-Length"] = str(values["declared"])
        return response
