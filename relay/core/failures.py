"""What a failed Dify call means, read from the text the SDK raises, and what the client is told about it.

The SDK reports every failure of ``session.app`` as a plain ``Exception(message)`` whose text the daemon wrote:

* Dify refused the call (unknown app, missing query, bad inputs, unknown conversation): the daemon quotes Dify's
  HTTP answer, ``invoke app failed: request failed with status code: 400 and respond with: {"code", "message",
  "status"}``;
* an error once the stream runs: ``read app failed: request failed: <sentence>``;
* ``fetch_app`` of an unknown app: ``fetch app failed: data is nil`` (the daemon never looks at Dify's 400);
* the platform's time limits: the daemon closes every app call's body 240 s after it started, and the SDK gives
  up after 250 s without a message (``invocation exited without response after 250 seconds``);
* the network between the daemon and Dify: Go's transport errors, which name internal hosts.

Any other exception type was raised by this process itself: its text is for the plugin log, not for clients.
"""

import json
import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from relay.core.errors import (
    GENERIC_FAILURE,
    RelayError,
    app_not_found,
    conversation_not_found,
    invalid_input,
    invocation_failed,
)

if TYPE_CHECKING:
    from relay.core.apps import AppKind

logger = logging.getLogger(__name__)

_CALL_SITES = re.compile(r"^(?:(?:invoke|read|fetch) app failed|request failed):\s*", re.IGNORECASE)
_HTTP_ANSWER = re.compile(
    r"^request failed with status code: (?P<status>\d+) and respond with:\s*(?P<body>.*)$", re.DOTALL
)
_SDK_SILENCE = re.compile(r"invocation exited without response after (?P<seconds>\d+) seconds", re.IGNORECASE)
# When the daemon closes an app call's body at its deadline, Go's read fails on the closed connection.
_DAEMON_CUT = re.compile(r"use of closed network connection|read on closed (?:response )?body", re.IGNORECASE)
# Newer daemons watch a stream's phases instead (``http_requests/stream_timeouts.go``) and name the one that ran out.
_DAEMON_WATCHDOG = re.compile(r"stream invocation timed out \(phase=(?P<phase>\w+), timeout_ms=(?P<ms>\d+)\)")
_PHASES = {"first_response": "its first answer", "read_idle": "silence", "total": "one app call"}
_NETWORK = re.compile(
    r"https?://|\bdial tcp\b|connection refused|no such host|i/o timeout|connection reset|broken pipe"
    r"|server misbehaving|network is unreachable|TLS handshake",
    re.IGNORECASE,
)

_CALLERS_MISTAKE = re.compile(
    r"in input form|is required|missing query|does not support blocking mode|must be (?:less|a |an |one of)"
    r"|Invalid (?:file|upload file|input)|file type|Reached maximum retries|blocked by SSRF|ToolFile .* not found"
    r"|not a valid|Invalid conversation",
    re.IGNORECASE,
)
"""Dify's refusals before the run that the caller can fix (measured and read: ``_validate_inputs``, the file
factory, the remote fetcher, the chat generators). Any other 400 (a failed run, the app's model or provider, an
app type plugins cannot call) is no caller's mistake and stays a 502, which a retry cannot fix either."""
NO_RETRY = {"x-should-retry": "false"}
"""What OpenAI's clients (and others) read before retrying a 5xx: a retry cannot fix this one."""

UNREACHABLE = "Dify could not be reached from the plugin; the plugin log has the details."
NO_MESSAGE = "The app call failed without a message."


@dataclass(frozen=True)
class Failure:
    """A failed Dify call, as far as its text tells."""

    message: str
    """Dify's own sentence (possibly empty), without the daemon's call-site names."""
    raw: str
    """The whole text as the SDK raised it, for the plugin log."""
    code: str | None = None
    """Dify's error code (``invalid_param``...), when the daemon quoted Dify's JSON answer."""
    status: int | None = None
    """Dify's HTTP status, when the daemon quoted its answer."""
    internal: bool = False
    """Raised by this process, not by the SDK on Dify's behalf: the text stays in the log."""

    @property
    def time_limit(self) -> str | None:
        """A sentence naming the platform limit that ended the call, if one did."""
        silence = _SDK_SILENCE.search(self.raw)
        if silence:
            return (
                f"The app sent nothing for {silence['seconds']} s, the longest Dify's plugin SDK waits for an "
                "answer; the call was given up."
            )
        watchdog = _DAEMON_WATCHDOG.search(self.raw)
        if watchdog:
            phase = _PHASES.get(watchdog["phase"], watchdog["phase"])
            return (
                f"The app call reached the plugin daemon's time limit for {phase} "
                f"({int(watchdog['ms']) / 1000:g} s) and was cut there."
            )
        if _DAEMON_CUT.search(self.raw):
            return (
                "The app call reached Dify's time limit for one app call (240 s by default, the plugin daemon's "
                "DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT) and was cut there."
            )
        return None

    @property
    def network(self) -> bool:
        return _NETWORK.search(self.raw) is not None

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later: only when the network or a time limit failed it."""
        return self.network or self.time_limit is not None


def read_failure(exc: BaseException) -> Failure:
    if type(exc) is not Exception:
        return Failure(message=GENERIC_FAILURE, raw=f"{type(exc).__name__}: {exc}", internal=True)
    raw = str(exc).strip()
    message, code, status = raw, None, None
    while True:
        answer = _HTTP_ANSWER.match(message)
        if answer:
            status = int(answer["status"])
            message, code = _dify_json(answer["body"])
        stripped = _CALL_SITES.sub("", message, count=1)
        if stripped == message:
            break
        message = stripped
    return Failure(message=message, raw=raw, code=code, status=status)


def refusal(
    exc: BaseException,
    *,
    app_id: str,
    conversation_id: str | None = None,
    blocking: bool = False,
    fetching: bool = False,
    kind: "AppKind | None" = None,
) -> RelayError:
    """The HTTP error for a Dify call that failed before its first event (``fetching``: a ``fetch_app``; ``kind``:
    the type of app the call was made as)."""
    failure = read_failure(exc)
    _log(failure)
    generic_500 = failure.status == 500 and failure.message == "Internal Server Error"
    if kind is not None and kind.name == "completion" and generic_500:
        return RelayError(
            502,
            "app_type_unsupported",
            "Dify could not run this completion app for a plugin: Dify's plugin path fails every completion call "
            "with its generic 'Internal Server Error' (Dify 1.16 and earlier, streaming and blocking alike). A "
            "workflow app with the same prompt works through this endpoint.",
            dict(NO_RETRY),
            reason="completion_unsupported",
        )
    if "unexpected app type" in failure.message.lower():
        return RelayError(
            502,
            "app_type_unsupported",
            "Dify does not run this type of app for plugins ('unexpected app type'): its newer Agent apps are not "
            "dispatched to plugins. Chatbot, agent chat, chatflow, workflow and completion apps are.",
            dict(NO_RETRY),
        )
    if "app not found" in failure.message.lower():
        return app_not_found(failure.message)
    if fetching and failure.message == "data is nil":  # fetch_app's only answer for an unknown app
        return app_not_found(f"App {app_id} was not found in this workspace.")
    if conversation_id and failure.code == "invalid_param" and not failure.message:
        # Dify's ConversationNotExistsError has no text: an unknown id, or another app's conversation.
        return conversation_not_found(conversation_id)
    if failure.status == 400 and not failure.internal and _CALLERS_MISTAKE.search(failure.message):
        # Dify refused the call before the run: the inputs, the query, the mode the caller chose.
        error = invalid_input(failure.message or NO_MESSAGE)
        return (
            replace(error, reason="blocking_unsupported")
            if "does not support blocking mode" in error.message
            else error
        )
    error = invocation_failed(_client_sentence(failure))
    if not failure.retryable:
        error = replace(error, headers={**error.headers, **NO_RETRY})
    if blocking and generic_500:
        return replace(
            error,
            message="Dify answered 'Internal Server Error': in blocking mode it hides the app's own error (a "
            "model's, for one).",
            reason="blocking_hides_error",
        )
    return error


def stream_error(exc: BaseException) -> dict[str, Any]:
    """The last event of a stream whose Dify call failed after its first event."""
    failure = read_failure(exc)
    _log(failure)
    if failure.time_limit:
        return {"event": "error", "code": "timeout", "message": failure.time_limit}
    return {"event": "error", "code": "invocation_failed", "message": _client_sentence(failure)}


def _client_sentence(failure: Failure) -> str:
    if failure.internal:
        return GENERIC_FAILURE
    if failure.time_limit:
        return failure.time_limit
    if failure.network:
        return UNREACHABLE
    return failure.message or NO_MESSAGE


def _log(failure: Failure) -> None:
    if failure.internal:
        logger.error("the app call failed inside the plugin: %s", failure.raw, exc_info=True)
    elif failure.network or failure.time_limit:
        logger.warning("the app call failed: %s", failure.raw)


def _dify_json(body: str) -> tuple[str, str | None]:
    """The ``message`` and ``code`` of Dify's JSON error body, or the body itself when it is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.strip(), None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        code = parsed.get("code")
        return parsed["message"].strip(), code if isinstance(code, str) else None
    return body.strip(), None
