"""One error type for everything the relay refuses or fails at, mapped to the contract's status and code."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from relay.limits import MAX_ECHO_CHARS


@dataclass
class RelayError(Exception):
    """A failure that becomes an HTTP status and ``{"error": {"code", "message"}}``."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def shown(value: Any) -> str:
    """A client's value quoted in a message: ``repr`` cut to ``MAX_ECHO_CHARS``, so no answer grows with the input."""
    text = repr(value)
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 1] + "…"


def invalid_request(message: str) -> RelayError:
    return RelayError(400, "invalid_request", message)


def unauthorized(message: str) -> RelayError:
    return RelayError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def app_not_allowed(app_id: str) -> RelayError:
    return RelayError(403, "app_not_allowed", f"App {app_id} is not in this endpoint's allowed apps.")


def app_not_found(message: str) -> RelayError:
    return RelayError(404, "app_not_found", message)


def payload_too_large(message: str) -> RelayError:
    return RelayError(413, "payload_too_large", message)


def invocation_failed(message: str) -> RelayError:
    return RelayError(502, "invocation_failed", message)


# The daemon wraps Dify's own sentence in its call-site names: "read app failed: request failed: <sentence>"
# for an error inside the stream, and, when Dify refused the call outright (unknown app, missing query), its
# HTTP answer: "invoke app failed: request failed with status code: 400 and respond with: {"code": ...,
# "message": "<sentence>", "status": 400}". Clients get Dify's sentence; the plumbing says nothing to them.
_DAEMON_PREFIXES = re.compile(r"^(?:(?:invoke|read|fetch) app failed|request failed):\s*", re.IGNORECASE)
_DIFY_HTTP_ANSWER = re.compile(r"^request failed with status code: \d+ and respond with:\s*(?P<body>.*)$", re.DOTALL)
GENERIC_FAILURE = "The app call failed inside the plugin; see the plugin log."


def internal_error() -> RelayError:
    """A fault of this plugin: the client learns nothing of it but that; the details go to the plugin log."""
    return RelayError(500, "internal_error", GENERIC_FAILURE)


def dify_message(exc: BaseException) -> str:
    """The message of an exception raised by the Dify call, safe to show a client.

    The SDK reports every Dify error as a plain ``Exception(message)``; those messages are Dify's and are
    passed on. Any other exception type is a fault of this process (a bug, a broken pipe...), whose text may
    carry internals, so the client gets a generic sentence and the details go to the plugin log instead.
    """
    if type(exc) is not Exception:
        return GENERIC_FAILURE
    message = str(exc).strip()
    while True:
        http_answer = _DIFY_HTTP_ANSWER.match(message)
        if http_answer:
            message = _message_of_json(http_answer["body"])
        stripped = _DAEMON_PREFIXES.sub("", message, count=1)
        if stripped == message:
            break
        message = stripped
    return message or "The app call failed without a message."


def _message_of_json(body: str) -> str:
    """The ``message`` of Dify's JSON error body, or the body itself when it is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return parsed["message"].strip()
    return body.strip()


def is_app_not_found(message: str) -> bool:
    return "app not found" in message.lower()
