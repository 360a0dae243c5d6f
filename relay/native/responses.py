"""werkzeug Responses: errors before the first byte, whole pages, and streamed bodies.

Every body leaves as a real generator of slices no larger than ``MAX_CHUNK_BYTES``. The SDK sends any other
body (a string, a list) as one message, and the daemon kills a plugin whose message reaches 5 MiB: a 3 MB
error text from Dify, or an app's long opening statement on the form page, would otherwise do it.
"""

import json
from collections.abc import Iterable, Iterator

from werkzeug import Response

from relay.core.errors import RelayError
from relay.native.formats import CONTENT_TYPES, sliced
from relay.native.pages import SECURITY_HEADERS, render_page
from relay.native.request import Format

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
NO_SNIFF = {"X-Content-Type-Options": "nosniff"}
PRIVATE = {"Cache-Control": "no-store"}
"""For pages that carry an api key in a hidden field: no cache, shared or not, may keep them."""

_HEADINGS = {
    400: "The request could not be understood",
    401: "An api key is needed",
    403: "This app is not available here",
    404: "No such app",
    413: "The request is too large",
    502: "The app could not be run",
}
# Where one status covers different situations, the page says which one (a person reads it, not a program).
_HEADINGS_BY_CODE = {
    "endpoint_not_configured": "This endpoint is not set up yet",
    "endpoint_misconfigured": "This endpoint's settings need fixing",
    "conversation_not_found": "No such conversation",
}


# What a person reading the page needs instead of the protocol's sentence (which stays, under "details").
_EXPLANATIONS = {
    "unauthorized": "This page is protected. Type the key you were given to continue.",
    "endpoint_not_configured": (
        "The administrator of this Dify workspace has not chosen yet which apps this address serves. In Dify: "
        "Plugins → App Relay → Endpoints, edit this endpoint and fill in “Allowed apps” (or * for every app)."
    ),
}


def error_response(error: RelayError, output: Format, extra_headers: dict[str, str], language: str = "en") -> Response:
    """The contract's error body (JSON), or for html a page saying the same, with the same status."""
    headers = {**error.headers, **extra_headers}
    if output is Format.HTML:
        page = render_page(
            "error.html",
            language,
            title=f"{error.status} {error.code}",
            ask_key=error.status == 401,
            status=error.status,
            code=error.code,
            message=error.message,
            explanation=_EXPLANATIONS.get(error.code),
            link=error.link,
            heading=_HEADINGS_BY_CODE.get(error.code) or _HEADINGS.get(error.status, "Something went wrong"),
        )
        return _whole(page, error.status, headers | SECURITY_HEADERS, CONTENT_TYPES[Format.HTML])
    body = json.dumps(error.body(), ensure_ascii=False)
    return _whole(body, error.status, headers | NO_SNIFF, "application/json")


def page_response(page: str, extra_headers: dict[str, str], *, private: bool = False) -> Response:
    """A whole HTML page (the browser form), with the same security headers as every html answer."""
    headers = extra_headers | SECURITY_HEADERS | (PRIVATE if private else {})
    return _whole(page, 200, headers, CONTENT_TYPES[Format.HTML])


def body_response(
    chunks: Iterable[bytes], output: Format, extra_headers: dict[str, str], *, private: bool = False
) -> Response:
    """A 200 whose body is a real generator, so the SDK sends each chunk the moment it is produced."""
    headers = extra_headers | NO_SNIFF
    if output.streams:
        headers |= STREAM_HEADERS
    if output is Format.HTML:
        headers |= SECURITY_HEADERS
    if private:
        headers |= PRIVATE
    return Response(_generator(chunks), status=200, headers=headers, content_type=CONTENT_TYPES[output])


def _whole(text: str, status: int, headers: dict[str, str], content_type: str) -> Response:
    # Lone surrogates (from Dify's JSON) cannot be UTF-8; a replacement character beats a failed answer.
    body = text.encode("utf-8", "replace")
    return Response(_generator(sliced([body])), status=status, headers=headers, content_type=content_type)


def _generator(chunks: Iterable[bytes]) -> Iterator[bytes]:
    # The SDK streams only a ``Generator``; an iterator of another kind would be joined into one message.
    yield from chunks
