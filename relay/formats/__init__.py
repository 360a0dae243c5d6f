"""Renderers: pure functions from an iterator of Dify events to byte chunks, one module per format.

They never call Dify and never look at the request. ``render`` also slices every chunk to at most
``MAX_CHUNK_BYTES``: the daemon kills a plugin whose protocol line passes 5 MiB, and chunks travel
hex-encoded (twice their size).
"""

from collections.abc import Iterable, Iterator
from typing import Any

from relay.formats.html import PageInfo, render_html
from relay.formats.json_document import render_json
from relay.formats.ndjson import render_ndjson
from relay.formats.sse import render_sse
from relay.request import Format

MAX_CHUNK_BYTES = 256 * 1024

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
    """The response body for ``events`` in ``output`` format, in slices no larger than ``MAX_CHUNK_BYTES``."""
    match output:
        case Format.NDJSON:
            chunks = render_ndjson(events)
        case Format.SSE:
            chunks = render_sse(events)
        case Format.JSON:
            chunks = render_json(events)
        case Format.HTML:
            chunks = render_html(events, page)
    return sliced(chunks)


__all__ = ["CONTENT_TYPES", "MAX_CHUNK_BYTES", "PageInfo", "render", "sliced"]
