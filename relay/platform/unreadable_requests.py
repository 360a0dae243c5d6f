"""A 400 instead of a traceback for requests the SDK's HTTP parser cannot read.

SDK 0.10.x parses the daemon's raw request (``deserialize_request``) before the ``try`` around the endpoint
in ``PluginExecutor.invoke_endpoint``. A header name with ``_``, a header value that is not UTF-8 or holds a
NUL, a duplicate ``Content-Type``, a ``Content-Length`` that is not a number: each raises there, and the SDK
answers with a session error whose text (a traceback, and with a malformed ``Authorization`` line, the key
itself) the daemon writes into the HTTP body. No endpoint code runs, so no endpoint can catch it.

The least invasive fix is to wrap that one method: whatever it raises before its first message can only be
the parser's refusal (everything after is inside the SDK's own ``try``), so it becomes the contract's 400.
``tests/test_sdk_contract.py`` fails when the SDK changes under this.
"""

import binascii
import functools
import json
import logging
from collections.abc import Generator, Iterator
from typing import Any

from dify_plugin.core.plugin_executor import PluginExecutor

logger = logging.getLogger(__name__)

_READABLE_REASONS = {
    "Invalid HTTP header": "A header name contains '_', which HTTP servers reject (Dify's nginx drops such headers).",
    "Ambiguous HTTP body framing": "The request has both Content-Length and Transfer-Encoding.",
    "HTTP body does not match Content-Length": "The body does not match Content-Length.",
    "Duplicate HTTP header: content-type": "Content-Type is sent twice.",
    "Duplicate HTTP header: content-length": "Content-Length is sent twice.",
}


def unreadable_reason(exc: Exception) -> str:
    """A sentence for the client; never the parser's own text, which may quote a header's value."""
    reason = _READABLE_REASONS.get(str(exc))
    if reason:
        return reason
    if isinstance(exc, UnicodeError):
        return "A header is not valid UTF-8."
    return "The request's headers could not be read."


def bad_request_message(reason: str) -> dict[str, Any]:
    """The SDK's message for a whole (non-streamed) response: status, headers, hex body."""
    body = json.dumps({"error": {"code": "invalid_request", "message": f"Unreadable HTTP request. {reason}"}})
    return {
        "status": 400,
        "headers": {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"},
        "result": binascii.hexlify(body.encode()).decode(),
    }


def answer_unreadable_requests() -> None:
    original = PluginExecutor.invoke_endpoint
    if getattr(original, "answers_unreadable_requests", False):
        return

    @functools.wraps(original)
    def invoke_endpoint(self: PluginExecutor, session: Any, data: Any) -> Generator[dict[str, object], None, None]:
        messages: Iterator[dict[str, object]] = original(self, session, data)
        try:
            first = next(messages)
        except StopIteration:
            return
        except Exception as exc:
            reason = unreadable_reason(exc)
            logger.warning("answered 400 to a request the SDK could not parse (%s): %s", type(exc).__name__, reason)
            yield bad_request_message(reason)
            return
        yield first
        yield from messages

    invoke_endpoint.answers_unreadable_requests = True  # type: ignore[attr-defined]
    PluginExecutor.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]
