"""A finished run as a ``tools/call`` result: the answer as text, and what a program reads as structured content.

The answer comes first, as a model reads it. Where there is structured content (a workflow's outputs, a chat
app's ``conversation_id``), its JSON follows as a second text block, as the specification asks for clients that
do not read ``structuredContent``; it is not repeated when the answer already is that JSON. A failed run is a
result too, with ``isError`` and the reason, which the model can read and act on.
"""

from typing import Any

from relay.core.answer import PAUSED, Answer
from relay.core.apps import AppKind
from relay.mcp_server.protocol import dumps


def tool_result(kind: AppKind, answer: Answer) -> dict[str, Any]:
    """The result of a run that ended (``relay.core.answer.Answer`` read its events)."""
    if answer.error is not None:
        return error_result(str(answer.error.get("message")))
    text = "\n\n".join(filter(None, (answer.text, PAUSED if answer.paused else "")))
    if kind.name == "workflow":
        structured: dict[str, Any] = answer.outputs if isinstance(answer.outputs, dict) else {}
    elif kind.takes_query:
        structured = {"conversation_id": answer.conversation_id}  # pass it back to go on with the conversation
    else:
        return {"content": [_text(text)], "isError": False}
    serialized = dumps(structured)
    blocks = [_text(text)] if text and text != serialized else []
    return {"content": [*blocks, _text(serialized)], "structuredContent": structured, "isError": False}


def error_result(message: str) -> dict[str, Any]:
    """A failed run is a tool result the model can read, not a protocol error."""
    return {"content": [_text(message)], "isError": True}


def _text(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}
