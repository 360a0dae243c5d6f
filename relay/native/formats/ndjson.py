"""NDJSON: one JSON object per line, each exactly one Dify event, in order."""

import json
from typing import Any

KEEPALIVE = b'{"event":"ping"}\n'
"""What Dify's own Service API sends during silence, so clients that read Dify already skip it."""


def encode_event(event: Any) -> bytes:
    """One event as compact JSON; ``json.dumps`` escapes newlines, so the result is always one line."""
    try:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        # A lone surrogate (JSON allows "\\ud800") has no UTF-8 form; escaped, it survives as Dify sent it.
        return json.dumps(event, separators=(",", ":")).encode()


class NdjsonEncoder:
    def start(self) -> bytes:
        return b""

    def event(self, event: Any) -> bytes:
        return encode_event(event) + b"\n"

    def keepalive(self) -> bytes:
        return KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        return self.event(error)

    def end(self) -> bytes:
        return b""
