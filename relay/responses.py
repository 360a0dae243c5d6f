"""werkzeug Responses: errors before the first byte, and streamed bodies after it."""

import json
from collections.abc import Iterator

from werkzeug import Response

from relay.errors import RelayError
from relay.formats import CONTENT_TYPES
from relay.pages import SECURITY_HEADERS, render_page
from relay.request import Format

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_HEADINGS = {
    400: "The request could not be understood",
    401: "An api key is needed",
    403: "This app is not available here",
    404: "No such app",
    413: "The request is too large",
    502: "The app could not be run",
}


def error_response(error: RelayError, output: Format, extra_headers: dict[str, str]) -> Response:
    """The contract's error body (JSON), or for html a page saying the same, with the same status."""
    headers = {**error.headers, **extra_headers}
    if output is Format.HTML:
        page = render_page(
            "error.html",
            title=f"{error.status} {error.code}",
            ask_key=error.status == 401,
            status=error.status,
            code=error.code,
            message=error.message,
            heading=_HEADINGS.get(error.status, "Something went wrong"),
        )
        return Response(
            page, status=error.status, headers=headers | SECURITY_HEADERS, content_type=CONTENT_TYPES[output]
        )
    body = json.dumps(error.body(), ensure_ascii=False)
    return Response(body, status=error.status, headers=headers, content_type="application/json")


def page_response(page: str, extra_headers: dict[str, str]) -> Response:
    """A whole HTML page (the browser form), with the same security headers as every html answer."""
    return Response(page, status=200, headers=extra_headers | SECURITY_HEADERS, content_type=CONTENT_TYPES[Format.HTML])


def body_response(chunks: Iterator[bytes], output: Format, extra_headers: dict[str, str]) -> Response:
    """A 200 whose body is a real generator, so the SDK sends each chunk the moment it is produced."""

    def stream() -> Iterator[bytes]:
        yield from chunks

    headers = dict(extra_headers)
    if output.streams:
        headers |= STREAM_HEADERS
    if output is Format.HTML:
        headers |= SECURITY_HEADERS
    return Response(stream(), status=200, headers=headers, content_type=CONTENT_TYPES[output])
