"""Streams a response that breaks: ``/fail/first`` before its first chunk, ``/fail/later`` after one."""

from collections.abc import Generator, Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class FailEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        when = values["when"]

        def body() -> Generator[str, None, None]:
            if when == "later":
                yield "partial "
            raise RuntimeError(f"broken on purpose ({when})")

        return Response(body(), status=200, content_type="text/plain")
