"""Server-Sent Events with the Dify Service API's framing: ``data: <json>`` and a blank line per event."""

from collections.abc import Iterable, Iterator
from typing import Any

from relay.formats.ndjson import encode_event


def render_sse(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for event in events:
        yield b"data: " + encode_event(event) + b"\n\n"
