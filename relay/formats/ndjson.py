"""NDJSON: one JSON object per line, each exactly one Dify event, in order."""

import json
from collections.abc import Iterable, Iterator
from typing import Any


def encode_event(event: dict[str, Any]) -> bytes:
    """One event as compact JSON; ``json.dumps`` escapes newlines, so the result is always one line."""
    try:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        # A lone surrogate (JSON allows "\\ud800") has no UTF-8 form; escaped, it survives as Dify sent it.
        return json.dumps(event, separators=(",", ":")).encode()


def render_ndjson(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for event in events:
        yield encode_event(event) + b"\n"
