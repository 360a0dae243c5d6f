"""Calls ``session.app.<kind>.invoke`` and looks at the first event before any status is chosen.

Dify reports "app not found", "missing query" and the like by raising when the stream is first read, so
the status of the HTTP response can only be decided after that first read: 404 or 502 instead of a 200
with an empty body.
"""

import os
import re
import time
from collections.abc import Iterator
from typing import Any

from relay.core.apps import AppKind
from relay.core.calls import AppCall, ResponseMode
from relay.core.dify import Dify
from relay.core.errors import RelayError, conversation_not_found, invocation_failed
from relay.core.failures import refusal, stream_error
from relay.core.pump import SILENT, Batch, DeadlineReached, Failure, Pump, keepalive_seconds

Event = dict[str, Any]

CONVERSATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
"""Dify's conversation ids are UUIDs; any other id is refused before Dify is called."""

FINAL_EVENTS = frozenset({"message_end", "workflow_finished", "workflow_paused", "error"})
"""Events after which Dify sends nothing that matters: a stream that ends before one of them was cut short.
(With text-to-speech auto-play, Dify sends its last ``tts_message`` events and ``tts_message_end`` after them.)"""

TRUNCATED = "The app's stream ended before its final event: the answer may be incomplete."

REQUEST_LIMIT_ENV = "PLUGIN_MAX_EXECUTION_TIMEOUT"
DEFAULT_REQUEST_LIMIT = 600.0
"""Seconds the plugin daemon gives one endpoint request once its answer has begun, then cuts it."""


class Invocation:
    """A Dify call under way. ``first`` is its first event, or ``None`` when the app had said nothing yet when
    the status had to be chosen (a streamed response keeps a silent app's connection alive meanwhile)."""

    def __init__(
        self,
        first: Event | None,
        pump: Pump | None = None,
        *,
        call: AppCall | None = None,
        kind: AppKind | None = None,
    ) -> None:
        self.first = first
        self._pump = pump
        self._call = call or AppCall(app_id="")
        self._kind = kind

    def events(self) -> Iterator[Event]:
        """Every event in order, however long they take. Never raises: a failure becomes a last ``error`` event."""
        for batch in self.batches(keepalive=None):
            yield from batch

    def batches(self, keepalive: float | None = None) -> Iterator[Batch]:
        """The events in batches of what is ready at once, an empty batch after each ``keepalive`` seconds of
        silence, and a last ``error`` event if the platform's limit for one request is about to end the response.
        Never raises."""
        if self._pump is None:
            yield [self.first]
            return
        try:
            yield from self._pump.batches(keepalive, response_deadline())
        except DeadlineReached:
            yield [_deadline_error()]
        except Exception as exc:  # the first read failed after the status went out: say it in the stream
            error = _first_failure(exc, self._call, self._kind)
            yield [{"event": "error", "code": error.code, "message": error.message}]

    def close(self) -> None:
        """Stop the call: nobody will read its events (a HEAD, a body the client never reads)."""
        if self._pump is not None:
            self._pump.close()


def start_invocation(dify: Dify, kind: AppKind, call: AppCall, *, patience: float | None = None) -> Invocation:
    """Invoke the app and wait for its first event; raise ``RelayError`` if that already fails.

    ``patience``: how long to wait for that first event before answering without it (``None``: as long as it
    takes). A streamed response passes the keep-alive interval, so a silent app's response starts in time to keep
    its connection alive; Dify's refusals (unknown app, missing query...) come back at once, long before.
    """
    blocking = call.response_mode is ResponseMode.BLOCKING
    if call.conversation_id is not None and not CONVERSATION_ID.fullmatch(call.conversation_id):
        raise conversation_not_found(call.conversation_id)  # Dify answers any non-UUID id with its generic 500
    try:
        result = dify.invoke(kind, call)
    except Exception as exc:
        raise refusal(
            exc, app_id=call.app_id, conversation_id=call.conversation_id, blocking=blocking, kind=kind
        ) from None
    if blocking:
        if _replaced(result, call.conversation_id):
            raise conversation_not_found(str(call.conversation_id))
        return Invocation(first=result)
    pump = Pump(_relayed(result, call.conversation_id))
    first = pump.first(patience)
    if first is SILENT:
        return Invocation(first=None, pump=pump, call=call, kind=kind)
    if isinstance(first, Failure):
        pump.close()
        raise _first_failure(first.exc, call, kind) from None
    if first is None:
        raise invocation_failed("The app returned no events.")
    return Invocation(first=first, pump=pump, call=call, kind=kind)


def _first_failure(exc: BaseException, call: AppCall, kind: AppKind | None) -> RelayError:
    if isinstance(exc, ConversationReplaced):
        return conversation_not_found(str(call.conversation_id))
    return refusal(exc, app_id=call.app_id, conversation_id=call.conversation_id, kind=kind)


def stream_patience() -> float:
    """How long a streamed response waits for the app's first event before it starts without it."""
    return keepalive_seconds()


class ConversationReplaced(Exception):
    """Dify answered a continued conversation in another one: a chatflow given an unknown (or another app's)
    ``conversation_id`` runs in a new conversation without a word (measured), and its first event says which."""


def _relayed(result: Any, conversation_id: str | None = None) -> Iterator[Event]:
    """The app's events as they come. A failure of the first read is raised (it is a refusal: Dify raises "app
    not found" there); a later failure, or an end before any final event, ends the events with an error event.
    A first event in another conversation than ``conversation_id`` raises ``ConversationReplaced``, after closing
    the app's stream so that Dify stops the run nobody asked for."""
    stream = iter(result)
    first = next(stream, None)
    if first is None:
        return
    if _replaced(first, conversation_id):
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        raise ConversationReplaced(conversation_id)
    yield first
    finished = _is_final(first)
    try:
        for event in stream:
            finished = finished or _is_final(event)
            yield event
    except Exception as exc:
        yield stream_error(exc)
        return
    if not finished:
        yield {"event": "error", "code": "stream_truncated", "message": TRUNCATED}


def _replaced(event: Any, conversation_id: str | None) -> bool:
    if not conversation_id or not isinstance(event, dict):
        return False
    answered = event.get("conversation_id")
    return isinstance(answered, str) and bool(answered) and answered != conversation_id


def _is_final(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get("event"), str) and event["event"] in FINAL_EVENTS


def response_deadline() -> float:
    """The ``time.monotonic()`` by which this response must end: see ``_response_budget``."""
    return time.monotonic() + _response_budget()


def _response_budget() -> float:
    """Seconds this response may still take: the daemon's limit for one request (``PLUGIN_MAX_EXECUTION_TIMEOUT``,
    which the daemon passes on to the plugins it starts), less a margin to end the stream cleanly before it."""
    try:
        limit = float(os.environ.get(REQUEST_LIMIT_ENV, DEFAULT_REQUEST_LIMIT))
    except ValueError:
        limit = DEFAULT_REQUEST_LIMIT
    if limit <= 0:
        limit = DEFAULT_REQUEST_LIMIT
    return limit - min(10.0, limit / 10)


def _deadline_error() -> Event:
    limit = os.environ.get(REQUEST_LIMIT_ENV, "").strip() or f"{DEFAULT_REQUEST_LIMIT:.0f}"
    return {
        "event": "error",
        "code": "timeout",
        "message": (
            f"The response reached Dify's time limit for one endpoint request ({limit} s, the plugin daemon's "
            "PLUGIN_MAX_EXECUTION_TIMEOUT) and was ended before the daemon cut it; the app's answer may be incomplete."
        ),
    }
