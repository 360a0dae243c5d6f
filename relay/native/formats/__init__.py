"""Renderers: one encoder per format, turning Dify events into bytes; one loop that drives them all.

An encoder never calls Dify and never looks at the request: it says how its format starts, writes one event,
fills a silence (keep-alive), reports a failure and ends. ``encode`` drives it over *batches* of events (the
events that were already waiting go out as one chunk), slices every chunk to at most ``MAX_CHUNK_BYTES`` (the
daemon kills a plugin whose protocol line passes 5 MiB, and chunks travel hex-encoded), and guards the whole
body: once the status is out, nothing may escape to the SDK, which would append a traceback to the body.
"""

import logging
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from relay.core.errors import GENERIC_FAILURE
from relay.core.limits import MAX_CHUNK_BYTES
from relay.native.formats.html import HtmlEncoder, PageInfo
from relay.native.formats.json_document import JsonEncoder
from relay.native.formats.ndjson import NdjsonEncoder
from relay.native.formats.sse import SseEncoder
from relay.native.request import Format

logger = logging.getLogger(__name__)

CONTENT_TYPES: dict[Format, str] = {
    Format.NDJSON: "application/x-ndjson",
    Format.SSE: "text/event-stream",
    Format.HTML: "text/html; charset=utf-8",
    Format.JSON: "application/json",
}

Batch = list[Any]
"""Events that are ready together; an empty batch means silence (time for a keep-alive)."""


class Encoder(Protocol):
    def start(self) -> bytes: ...
    def event(self, event: Any) -> bytes: ...
    def keepalive(self) -> bytes: ...
    def failure(self, error: dict[str, Any]) -> bytes: ...
    def end(self) -> bytes: ...


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


def encode(output: Format, batches: Iterable[Batch], page: PageInfo) -> Iterator[bytes]:
    """The response body: one chunk per batch, in slices no larger than ``MAX_CHUNK_BYTES``.

    A JSON document is not guarded: the caller builds it whole before choosing a status.
    """
    encoder = encoder_for(output, page)
    chunks = _chunks(encoder, batches)
    return sliced(chunks if output is Format.JSON else _guarded(encoder, chunks, output))


def render(output: Format, events: Iterable[Any], page: PageInfo) -> Iterator[bytes]:
    """The response body with one chunk per event, read as they come (no keep-alive, nothing coalesced)."""
    return encode(output, ([event] for event in events), page)


def _chunks(encoder: Encoder, batches: Iterable[Batch]) -> Iterator[bytes]:
    yield encoder.start()
    for batch in batches:
        yield b"".join(encoder.event(event) for event in batch) if batch else encoder.keepalive()
    yield encoder.end()


def _guarded(encoder: Encoder, chunks: Iterator[bytes], output: Format) -> Iterator[bytes]:
    try:
        yield from chunks
    except Exception:
        logger.exception("the %s renderer failed after the first byte", output.value)
        error = {"event": "error", "code": "internal_error", "message": GENERIC_FAILURE}
        try:
            yield encoder.failure(error) + encoder.end()
        except Exception:
            logger.exception("the %s renderer could not end its body either", output.value)


__all__ = ["CONTENT_TYPES", "MAX_CHUNK_BYTES", "Batch", "PageInfo", "encode", "render", "sliced"]
