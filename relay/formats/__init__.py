"""Renderers: pure functions from an iterator of Dify events to byte chunks, one module per format.

They never call Dify and never look at the request. ``render`` also slices every chunk to at most
``MAX_CHUNK_BYTES``: the daemon kills a plugin whose protocol line passes 5 MiB, and chunks travel
hex-encoded (twice their size). And it guards every streamed format: once the status is out, nothing may
escape to the SDK, which would append a traceback to the body.
"""

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from markupsafe import escape

from relay.errors import GENERIC_FAILURE
from relay.formats.html import PageInfo, render_html
from relay.formats.json_document import render_json
from relay.formats.ndjson import encode_event, render_ndjson
from relay.formats.sse import render_sse
from relay.limits import MAX_CHUNK_BYTES
from relay.request import Format

logger = logging.getLogger(__name__)

CONTENT_TYPES: dict[Format, str] = {
    Format.NDJSON: "application/x-ndjson",
    Format.SSE: "text/event-stream",
    Format.HTML: "text/html; charset=utf-8",
    Format.JSON: "application/json",
}


def sliced(chunks: Iterable[bytes], limit: int = MAX_CHUNK_BYTES) -> Iterator[bytes]:
    """Pass chunks on as they come, cutting any chunk longer than ``limit`` into pieces."""
    for chunk in chunks:
        if len(chunk) <= limit:
            if chunk:
                yield chunk
            continue
        view = memoryview(chunk)
        for start in range(0, len(chunk), limit):
            yield bytes(view[start : start + limit])


def render(output: Format, events: Iterable[dict[str, Any]], page: PageInfo) -> Iterator[bytes]:
    """The response body for ``events`` in ``output`` format, in slices no larger than ``MAX_CHUNK_BYTES``.

    A JSON document is not guarded: the caller builds it whole before choosing a status.
    """
    match output:
        case Format.NDJSON:
            return sliced(_guarded(render_ndjson(events), output))
        case Format.SSE:
            return sliced(_guarded(render_sse(events), output))
        case Format.HTML:
            return sliced(_guarded(render_html(events, page), output))
        case Format.JSON:
            return sliced(render_json(events))


# What ends a stream whose renderer failed: the contract's in-band error. The html renderer closes its own
# page on errors it sees coming; this is the last resort, so it only adds a block the browser can show.
_LAST_WORDS = {
    Format.NDJSON: lambda event: encode_event(event) + b"\n",
    Format.SSE: lambda event: b"data: " + encode_event(event) + b"\n\n",
    Format.HTML: lambda event: (
        f'<section class="card error" role="alert"><p>{escape(event["message"])}</p></section>'.encode()
    ),
}


def _guarded(chunks: Iterator[bytes], output: Format) -> Iterator[bytes]:
    try:
        yield from chunks
    except Exception:
        logger.exception("the %s renderer failed after the first byte", output.value)
        yield _LAST_WORDS[output]({"event": "error", "code": "internal_error", "message": GENERIC_FAILURE})


__all__ = ["CONTENT_TYPES", "MAX_CHUNK_BYTES", "PageInfo", "render", "sliced"]
