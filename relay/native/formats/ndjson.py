"""NDJSON: one JSON object per line, each exactly one Dify event, in order (strict JSON: ``relay.core.wire``)."""

from typing import Any

from relay.core.wire import json_bytes

KEEPALIVE = b'{"event":"ping"}\n'
"""What Dify's own Service API sends during silence, so clients that read Dify already skip it."""


class NdjsonEncoder:
    def start(self) -> bytes:
        return b""

    def event(self, event: Any) -> bytes:
        # Compact JSON is one line: ``json`` escapes the new lines inside strings.
        return json_bytes(event) + b"\n"

    def keepalive(self) -> bytes:
        return KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        return self.event(error)

    def end(self) -> bytes:
        return b""
