"""What ``notifications/progress`` say while an app runs: each workflow step, and otherwise only what changed.

An answer streams in hundreds of pieces; one notification for each, all saying "answering", would flood the
client with nothing new. So a note goes out when it differs from the last one, except for a workflow's steps,
each of which is news ("LLM succeeded").
"""

from typing import Any

MAX_NOTE_CHARS = 200
"""Node titles and tool names come from the app's authors; a note quotes at most this much of them."""


class ProgressNotes:
    """Reads the app's events one by one and says which deserve a notification."""

    def __init__(self) -> None:
        self.last: str | None = None

    def note(self, event: Any) -> str | None:
        """The message of the notification ``event`` deserves, or ``None``."""
        if not isinstance(event, dict):
            return None
        name = event.get("event")
        if name == "node_finished":
            self.last = _step(event.get("data"))
            return self.last
        note = _state(name, event)
        if note is None or note == self.last:
            return None
        self.last = note
        return note


def _step(data: Any) -> str:
    data = data if isinstance(data, dict) else {}
    title = _short(data.get("title")) or _short(data.get("node_type")) or "A step"
    return f"{title} {_short(data.get('status')) or 'finished'}"


def _state(name: Any, event: dict[str, Any]) -> str | None:
    if name == "workflow_started":
        return "started"
    if name in ("message", "agent_message", "text_chunk"):
        return "answering"
    if name == "agent_thought" and _short(event.get("tool")):
        return f"using {_short(event.get('tool'))}"
    return None


def _short(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip()[:MAX_NOTE_CHARS] or None
