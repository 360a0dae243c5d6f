"""Calls ``session.app.<kind>.invoke`` and looks at the first event before any status is chosen.

Dify reports "app not found", "missing query" and the like by raising when the stream is first read, so
the status of the HTTP response can only be decided after that first read: 404 or 502 instead of a 200
with an empty body.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from relay.core.apps import AppKind
from relay.core.calls import AppCall, ResponseMode
from relay.core.errors import invocation_failed
from relay.core.failures import refusal, stream_error

Event = dict[str, Any]


@dataclass
class Invocation:
    """A Dify call that has produced its first event; the rest are read lazily."""

    first: Event
    rest: Iterator[Event]

    def events(self) -> Iterator[Event]:
        """Every event in order. Never raises: a failure becomes a last ``error`` event."""
        yield self.first
        yield from self.rest


FINAL_EVENTS = frozenset({"message_end", "workflow_finished", "workflow_paused", "error"})
"""Events after which Dify sends nothing more: a stream that stops before one of them was cut short."""

TRUNCATED = "The app's stream ended before its final event: the answer may be incomplete."


def start_invocation(session: Any, kind: AppKind, call: AppCall) -> Invocation:
    """Invoke the app and read its first event; raise ``RelayError`` if that already fails."""
    blocking = call.response_mode is ResponseMode.BLOCKING
    try:
        result = _invoke(session, kind, call)
        if blocking:
            return Invocation(first=result, rest=iter(()))
        stream = iter(result)
        first = next(stream)
    except StopIteration:
        raise invocation_failed("The app returned no events.") from None
    except Exception as exc:
        raise refusal(exc, app_id=call.app_id, conversation_id=call.conversation_id, blocking=blocking) from None
    return Invocation(first=first, rest=_guarded(first, stream))


def fetch_parameters(session: Any, app_id: str) -> dict[str, Any]:
    """The app's parameters (opening statement, inputs...), with the same error mapping as an invocation."""
    try:
        parameters = session.app.fetch_app(app_id)
    except Exception as exc:
        raise refusal(exc, app_id=app_id) from None
    return dict(parameters) if isinstance(parameters, dict) else {}


def _invoke(session: Any, kind: AppKind, call: AppCall) -> Any:
    common = {"inputs": call.inputs, "response_mode": call.response_mode.value, "user": call.user}
    if kind.takes_query:
        return session.app.chat.invoke(
            app_id=call.app_id, query=call.query, conversation_id=call.conversation_id, **common
        )
    return getattr(session.app, kind.name).invoke(app_id=call.app_id, **common)


def _guarded(first: Event, stream: Iterator[Event]) -> Iterator[Event]:
    """Relay events as they come; a failure, or an end without a final event, ends with an error event."""
    last = first
    try:
        for last in stream:
            yield last
    except Exception as exc:
        yield stream_error(exc)
        return
    if not (isinstance(last, dict) and isinstance(last.get("event"), str) and last["event"] in FINAL_EVENTS):
        yield {"event": "error", "code": "stream_truncated", "message": TRUNCATED}
