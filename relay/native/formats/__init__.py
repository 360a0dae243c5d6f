"""The native surface's renderers: one encoder per format (``relay.core.stream`` drives them).

They never call Dify and never look at the request; each module says how its format starts, writes one event,
fills a silence, reports a failure and ends.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from relay.core import stream
from relay.core.limits import MAX_CHUNK_BYTES
from relay.core.pump import Batch
from relay.core.stream import Encoder, sliced
from relay.native.formats.html import HtmlEncoder, PageInfo
from relay.native.formats.json_document import JsonEncoder
from relay.native.formats.ndjson import NdjsonEncoder
from relay.native.formats.sse import SseEncoder
from relay.native.request import Format

CONTENT_TYPES: dict[Format, str] = {
    Format.NDJSON: "application/x-ndjson",
    Format.SSE: "text/event-stream",
    Format.HTML: "text/html; charset=utf-8",
    Format.JSON: "application/json",
}


def encoder_for(output: Format, page: PageInfo) -> Encoder:
    match output:
        case Format.NDJSON:
            return NdjsonEncoder()
        case Format.SSE:
            return SseEncoder()
        case Format.HTML:
            return HtmlEncoder(page)
        case Format.JSON:
            return JsonEncoder()


def encode(output: Format, batches: Iterable[Batch], page: PageInfo) -> Iterator[bytes]:
    """The response body: one chunk per batch, in slices no larger than ``MAX_CHUNK_BYTES``.

    A JSON document is not guarded: the caller builds it whole before choosing a status.
    """
    return stream.encode(encoder_for(output, page), batches, guarded=output is not Format.JSON, name=output.value)


def render(output: Format, events: Iterable[Any], page: PageInfo) -> Iterator[bytes]:
    """The response body with one chunk per event, read as they come (no keep-alive, nothing coalesced)."""
    return encode(output, ([event] for event in events), page)


__all__ = ["CONTENT_TYPES", "MAX_CHUNK_BYTES", "Batch", "PageInfo", "encode", "render", "sliced"]
