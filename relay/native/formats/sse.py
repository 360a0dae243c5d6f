"""Server-Sent Events with the Dify Service API's framing: ``data: <json>`` and a blank line per event."""

from typing import Any

from relay.native.formats.ndjson import encode_event

KEEPALIVE = b": keep-alive\n\n"
"""A comment line: EventSource ignores it, proxies see bytes flow."""


class SseEncoder:
    def start(self) -> bytes:
        return b""

    def event(self, event: Any) -> bytes:
        return b"data: " + encode_event(event) + b"\n\n"

    def keepalive(self) -> bytes:
        return KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        return self.event(error)

    def end(self) -> bytes:
        return b""
