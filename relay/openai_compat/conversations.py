"""Conversation continuity for OpenAI clients, which resend the whole history with every request.

Dify keeps a chat app's memory in a conversation; an OpenAI client knows nothing of it and sends the messages so
far instead. So, after each answer, the plugin remembers in Dify's plugin storage which Dify conversation the
history *including that answer* belongs to, under a digest of the endpoint, the app, the ``user`` field and the
messages (role and text). The next request that carries that history plus one new user message finds the
conversation by the same digest and continues it: Dify gets only the new message.

When the history is unknown (edited, from another client, or storage unavailable), a new conversation starts and
the earlier messages are sent along as context, in the format of ``with_context``. The storage is shared by
every copy of the plugin in the workspace and never expires; each remembered conversation costs about 40 bytes
of the plugin's storage quota (``resource.permission.storage.size`` in the manifest).
"""

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from relay.openai_compat.request import Message

logger = logging.getLogger(__name__)

KEY_PREFIX = "openai-conversation-"


def history_key(endpoint_id: str, app_id: str, user: str | None, messages: Sequence[Message]) -> str:
    canonical = json.dumps(
        [endpoint_id, app_id, user or "", [[message.role, message.text] for message in messages]],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return KEY_PREFIX + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def recall(storage: Any, key: str) -> str | None:
    """The Dify conversation a history belongs to, if the plugin remembers one."""
    try:
        found = storage.get(key)
    except Exception as exc:  # Dify says "load data failed..." for an unknown key; any failure means "none"
        logger.debug("no conversation remembered for a history: %s", exc)
        return None
    text = found.decode("utf-8", "replace").strip() if isinstance(found, bytes) else ""
    return text or None


def remember(storage: Any, key: str, conversation_id: str) -> bool:
    try:
        storage.set(key, conversation_id.encode())
    except Exception as exc:
        # Full storage, or storage not enabled: the next request sends its history as context instead.
        logger.warning("could not remember a conversation in plugin storage: %s", exc)
        return False
    return True


def with_context(history: Sequence[Message], question: str) -> str:
    """The query for a new conversation that must know what was said before (Dify has no memory of it)."""
    lines = [f"{message.role}: {message.text}" for message in history if message.text.strip()]
    if not lines:
        return question
    return "[Conversation so far]\n" + "\n".join(lines) + "\n\n[New message]\n" + question
