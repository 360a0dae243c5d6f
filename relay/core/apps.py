"""The three kinds of Dify app the plugin relays, described as data.

The endpoint classes differ only by which of these they pass to the core.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class AppKind:
    """What an endpoint path accepts and which ``session.app`` invocation it calls."""

    name: str
    """Path segment and the attribute of ``session.app`` that invokes it: chat, workflow, completion."""
    label: str
    """Human name used in pages and error messages."""
    takes_query: bool
    """Whether ``query`` and ``conversation_id`` are fields of this kind (chat-type apps only)."""


CHAT = AppKind(name="chat", label="chat app", takes_query=True)
WORKFLOW = AppKind(name="workflow", label="workflow app", takes_query=False)
COMPLETION = AppKind(name="completion", label="completion app", takes_query=False)

KINDS: dict[str, AppKind] = {kind.name: kind for kind in (CHAT, WORKFLOW, COMPLETION)}
"""Every kind by name: the path segments, and the types an ``allowed_apps`` entry may declare."""
