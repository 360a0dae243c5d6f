"""Driving an encoder over an app's events: the one loop every surface streams its responses through.

An *encoder* knows one wire format (NDJSON, SSE, an html page, OpenAI's chunks...): how its body starts, how it
writes one event, how it fills a silence (keep-alive), how it reports a failure, how it ends. It never calls
Dify and never looks at the request. ``encode`` drives it over *batches* of events (``relay.core.pump``: the
events already waiting go out as one chunk), slices every chunk to at most ``MAX_CHUNK_BYTES`` (the daemon kills
a plugin whose protocol line passes 5 MiB, and chunks travel hex-encoded), and, when ``guarded``, keeps any
exception from reaching the SDK once the status is out: the SDK would append a traceback to the body.
"""

import logging
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from relay.core.errors import GENERIC_FAILURE
from relay.core.limits import MAX_CHUNK_BYTES
from relay.core.pump import Batch

logger = logging.getLogger(__name__)


class Encoder(Protocol):
    def start(self) -> bytes: ...
    def event(self, event: Any) -> bytes: ...
    def keepalive(self) -> bytes: ...
    def failure(self, error: dict[str, Any]) -> bytes: ...
    def end(self) -> bytes: ...


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


def encode(encoder: Encoder, batches: Iterable[Batch], *, guarded: bool = True, name: str = "") -> Iterator[bytes]:
    """The body: the encoder's start, one chunk per batch (a keep-alive for an empty one), its end; sliced."""
    chunks = _chunks(encoder, batches)
    return sliced(_guarded(encoder, chunks, name) if guarded else chunks)


def _chunks(encoder: Encoder, batches: Iterable[Batch]) -> Iterator[bytes]:
    yield encoder.start()
    for batch in batches:
        yield b"".join(encoder.event(event) for event in batch) if batch else encoder.keepalive()
    yield encoder.end()


def _guarded(encoder: Encoder, chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    try:
        yield from chunks
    except Exception:
        logger.exception("the %s renderer failed after the first byte", name or "response")
        error = {"event": "error", "code": "internal_error", "message": GENERIC_FAILURE}
        try:
            yield encoder.failure(error) + encoder.end()
        except Exception:
            logger.exception("the %s renderer could not end its body either", name or "response")
