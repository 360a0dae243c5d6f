"""Streams "first", waits ``seconds`` (a float), then "late": to show what the daemon does with a slow body."""

import time
from collections.abc import Generator, Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class SlowEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        seconds = float(values["seconds"])

        def body() -> Generator[str, None, None]:
            yield "first\n"
            time.sleep(seconds)
            yield "late\n"

        return Response(body(), status=200, content_type="text/plain")
