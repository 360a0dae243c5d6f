"""Server-Sent Events with the Dify Service API's framing: ``data: <json>`` and a blank line per event."""

from typing import Any

from relay.core.wire import SSE_KEEPALIVE, json_bytes


class SseEncoder:
    def start(self) -> bytes:
        return b""

    def event(self, event: Any) -> bytes:
        # Compact JSON is one line, so the frame is the one ``data:`` line the Service API writes.
        return b"data: " + json_bytes(event) + b"\n\n"

    def keepalive(self) -> bytes:
        return SSE_KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        return self.event(error)

    def end(self) -> bytes:
        return b""
