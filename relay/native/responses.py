"""The native surface's responses: errors before the first byte, whole pages, and streamed bodies.

Every body leaves as a generator of small slices (``relay.core.responses``).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug import Response

from relay.core.errors import RelayError
from relay.core.responses import NO_SNIFF, STREAM_HEADERS, json_response, streamed_response, whole_response
from relay.native.formats import CONTENT_TYPES
from relay.native.pages import SECURITY_HEADERS, render_page
from relay.native.request import Format


@dataclass(frozen=True)
class PageLink:
    """Where an html error page points a person: a sentence, a link's label and its address."""

    text: str
    label: str
    href: str


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
    "wrong_key": "That key is not valid here. Check it and type it again.",
    "endpoint_not_configured": (
        "The administrator of this Dify workspace has not chosen yet which apps this address serves. In Dify: "
        "Plugins → App Relay → Endpoints, edit this endpoint and fill in “Allowed apps” (or * for every app)."
    ),
}


def error_response(
    error: RelayError,
    output: Format,
    extra_headers: dict[str, str],
    language: str = "en",
    *,
    carried: dict[str, str] | None = None,
    link: PageLink | None = None,
) -> Response:
    """The contract's error body (JSON), or for html a page saying the same, with the same status. ``carried``: the
    api key the page's links must carry on (they become small POST forms); ``link``: what the page offers to click
    (JSON clients read the same advice in the message)."""
    headers = {**error.headers, **extra_headers}
    if output is Format.HTML:
        page = render_page(
            "error.html",
            language,
            carried=carried or {},
            ask_key=error.status == 401,
            status=error.status,
            code=error.code,
            message=error.message,
            explanation=_EXPLANATIONS.get(error.reason or "") or _EXPLANATIONS.get(error.code),
            link=link,
            heading=_HEADINGS_BY_CODE.get(error.code) or _HEADINGS.get(error.status, "Something went wrong"),
        )
        private = PRIVATE if carried else {}
        return whole_response(page, error.status, headers | SECURITY_HEADERS | private, CONTENT_TYPES[Format.HTML])
    return json_response(error.body(), error.status, headers)


def page_response(page: str, extra_headers: dict[str, str], *, private: bool = False) -> Response:
    """A whole HTML page (the browser form), with the same security headers as every html answer."""
    headers = extra_headers | SECURITY_HEADERS | (PRIVATE if private else {})
    return whole_response(page, 200, headers, CONTENT_TYPES[Format.HTML])


def body_response(
    chunks: Iterable[bytes],
    output: Format,
    extra_headers: dict[str, str],
    *,
    private: bool = False,
    as_text: bool = False,
) -> Response:
    """A 200 whose body is a real generator, so the SDK sends each chunk the moment it is produced.

    ``as_text``: the same bytes as ``text/plain``, for a browser that opened an ndjson or sse link: it would
    download those types; as text it shows the stream growing.
    """
    headers = extra_headers | NO_SNIFF
    if output.streams:
        headers |= STREAM_HEADERS
    if output is Format.HTML:
        headers |= SECURITY_HEADERS
    if private:
        headers |= PRIVATE
    content_type = "text/plain; charset=utf-8" if as_text else CONTENT_TYPES[output]
    return streamed_response(chunks, 200, headers, content_type)
