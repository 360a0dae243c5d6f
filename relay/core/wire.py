"""The bytes every surface writes: strict JSON and Server-Sent Events framing, in one place.

JSON goes out compact and strict: Python's ``json`` reads ``NaN`` and ``Infinity`` from the daemon's lines (an app's
outputs can hold them) but they are not JSON, and one of them makes a client's ``JSON.parse`` reject the whole
event, so they are written as ``null``, as browsers' ``JSON.stringify`` does. A lone surrogate (JSON allows
``"\\ud800"``) has no UTF-8 form: it is written escaped, as Dify sent it.

SSE follows the WHATWG framing: optional ``event:`` and ``id:`` lines, one ``data:`` line per line of the payload,
a blank line; a comment line (``: ...``) is what a silence sends, which EventSource ignores and proxies see flow.
"""

import json
import math
from typing import Any

SSE_KEEPALIVE = b": keep-alive\n\n"
"""The SSE comment every event-stream surface sends during a silence (how long a silence lasts before one goes
out is ``relay.core.pump.keepalive_seconds``)."""

_COMPACT = (",", ":")
# Built once: ``json.dumps`` with any non-default option builds a new encoder per call, a third of the cost of
# encoding a small event. What is encoded comes from JSON or from this plugin, so it holds no cycle to look for.
_UNICODE = json.JSONEncoder(ensure_ascii=False, separators=_COMPACT, allow_nan=False, check_circular=False).encode
_ASCII = json.JSONEncoder(separators=_COMPACT, allow_nan=False, check_circular=False).encode


def json_text(value: Any) -> str:
    """``value`` as compact, strict JSON text (non-finite numbers as ``null``); may hold lone surrogates."""
    try:
        return _UNICODE(value)
    except ValueError:
        return _UNICODE(_finite(value))


def json_bytes(value: Any) -> bytes:
    """``value`` as compact, strict JSON in UTF-8, on one line (``json`` escapes new lines inside strings)."""
    text = json_text(value)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: escaped, it survives as Dify sent it
        return json_text_ascii(value).encode()


def json_text_ascii(value: Any) -> str:
    """Like ``json_text``, with every non-ASCII character escaped: always encodable."""
    try:
        return _ASCII(value)
    except ValueError:
        return _ASCII(_finite(value))


def sse_event(data: bytes, *, event: str | None = None, ident: str | None = None) -> bytes:
    """One Server-Sent Event carrying ``data``; a payload with line breaks gets one ``data:`` line per line."""
    head = b""
    if event is not None:
        head += b"event: " + _line(event) + b"\n"
    if ident is not None:
        head += b"id: " + _line(ident) + b"\n"
    if b"\n" not in data and b"\r" not in data:
        return head + b"data: " + data + b"\n\n"
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return head + b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"


def sse_json(value: Any, *, event: str | None = None, ident: str | None = None) -> bytes:
    """One Server-Sent Event whose data is ``value`` as strict JSON."""
    return sse_event(json_bytes(value), event=event, ident=ident)


def _line(text: str) -> bytes:
    """A field value on one line: a line break would end the field and begin another."""
    return text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
