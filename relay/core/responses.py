"""werkzeug Responses the SDK can carry whatever their size: every body a real generator of small slices.

The SDK streams only a ``Generator``; any other body (a string, a list) goes out as one message, and the daemon
kills a plugin whose message reaches 5 MiB: a 3 MB error text from Dify, or an app's long opening statement on a
form page, would do it.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from werkzeug import Response

from relay.core.stream import sliced
from relay.core.wire import json_bytes

NO_SNIFF = {"X-Content-Type-Options": "nosniff"}
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def whole_response(text: str, status: int, headers: dict[str, str], content_type: str) -> Response:
    # Lone surrogates (from Dify's JSON) cannot be UTF-8; a replacement character beats a failed answer.
    body = text.encode("utf-8", "replace")
    return Response(generator(sliced([body])), status=status, headers=headers, content_type=content_type)


def json_response(document: Any, status: int, headers: dict[str, str]) -> Response:
    """A JSON document (strict JSON: see ``relay.core.wire``), sliced like every body."""
    body = json_bytes(document)
    return Response(
        generator(sliced([body])), status=status, headers=headers | NO_SNIFF, content_type="application/json"
    )


def streamed_response(chunks: Iterable[bytes], status: int, headers: dict[str, str], content_type: str) -> Response:
    return Response(generator(chunks), status=status, headers=headers | NO_SNIFF, content_type=content_type)


def generator(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield from chunks
