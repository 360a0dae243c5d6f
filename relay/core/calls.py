"""One app call, protocol-neutral: what every surface hands to ``relay.core.invoke``, already validated."""

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from relay.core.errors import invalid_request, payload_too_large
from relay.core.limits import MAX_CALL_BYTES, MAX_INPUT_DEPTH


class ResponseMode(StrEnum):
    STREAMING = "streaming"
    BLOCKING = "blocking"


@dataclass(frozen=True)
class AppCall:
    """Everything needed to invoke one Dify app, already validated."""

    app_id: str
    inputs: dict[str, Any] = field(default_factory=dict)
    query: str | None = None
    conversation_id: str | None = None
    user: str | None = None
    response_mode: ResponseMode = ResponseMode.STREAMING


def check_call_size(call: AppCall) -> None:
    """Refuse, before Dify is called, an app call the SDK could not send or that would grow its line too long.

    The SDK encodes the call as one JSON line to the daemon (pydantic: UTF-8, control characters escaped),
    which kills the plugin at 5 MiB; that serializer also fails on lone surrogates and on values nested
    255 levels deep. Measuring the same encoding here turns each of those into a clear 4xx.
    """
    _check_depth(call.inputs, "inputs", 1)
    payload = {"inputs": call.inputs, "query": call.query, "conversation_id": call.conversation_id, "user": call.user}
    try:
        size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    except UnicodeEncodeError:
        raise invalid_request("The request holds text that is not valid Unicode (a lone surrogate).") from None
    if size > MAX_CALL_BYTES:
        raise payload_too_large(
            f"The app call would be {size // 1024} KiB once encoded; the limit is {MAX_CALL_BYTES // 1024} KiB "
            "(control characters count six bytes each)."
        )


def _check_depth(value: Any, where: str, depth: int) -> None:
    if depth > MAX_INPUT_DEPTH:
        raise invalid_request(f"{where} nest deeper than {MAX_INPUT_DEPTH} levels.")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_depth(child, where, depth + 1)
