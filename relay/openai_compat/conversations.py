"""Conversation continuity for OpenAI clients, which resend the whole history with every request.

Dify keeps a chat app's memory in a conversation; an OpenAI client knows nothing of it and sends the messages so
far instead. So, after each answer, the plugin remembers in Dify's plugin storage which Dify conversation the
history *including that answer* belongs to, under a digest of the endpoint, the app, the ``user`` field and the
messages (role and text, without surrounding whitespace). The next request that carries that history plus one new
user message finds the conversation by the same digest and continues it: Dify gets only the new message.

A Dify conversation cannot branch. So each conversation also has a *head*: the digest of the last history it
answered. A history that the conversation has moved past (the client regenerates an answer, or edits its last
message) is not continued there; like a history the plugin never saw (edited further back, from another client,
or storage unavailable), it starts a new conversation with the earlier messages sent along as context, in the
format of ``with_context``.

What it costs: each answer writes one entry (an 84-character key holding the conversation id, 36 bytes for Dify's
ids), and each conversation one more (its head, a 64-byte digest, overwritten at every answer). Dify counts the
values against the plugin's quota (``resource.permission.storage.size`` in the manifest); the store is shared by
every copy of the plugin in the workspace and never expires. When it is full, histories travel as context.
"""

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from relay.openai_compat.request import Message

logger = logging.getLogger(__name__)

KEY_PREFIX = "openai-conversation-"
HEAD_PREFIX = KEY_PREFIX + "head-"
MAX_CONVERSATION_ID_CHARS = 128
"""A conversation id longer than this is not Dify's (its ids are UUIDs): it is not stored."""


def history_key(endpoint_id: str, app_id: str, user: str | None, messages: Sequence[Message]) -> str:
    canonical = json.dumps(
        [endpoint_id, app_id, user or "", [[message.role, message.text.strip()] for message in messages]],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return KEY_PREFIX + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def head_key(conversation_id: str) -> str:
    """Where a conversation's head is kept (a digest: the id itself could hold anything a storage key must not)."""
    return HEAD_PREFIX + hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).hexdigest()


def recall(storage: Any, key: str) -> str | None:
    """The Dify conversation a history belongs to, if the plugin remembers one and it has not moved on since."""
    conversation_id = _load(storage, key)
    if conversation_id is None:
        return None
    head = _load(storage, head_key(conversation_id))
    if head is not None and head != key.removeprefix(KEY_PREFIX):
        return None  # the conversation went on past this history (a regenerated answer): Dify cannot branch it
    return conversation_id


def remember(storage: Any, key: str, conversation_id: str) -> bool:
    """Note that the history under ``key`` belongs to ``conversation_id``, and is now its head."""
    if len(conversation_id) > MAX_CONVERSATION_ID_CHARS:
        return False
    try:
        storage.set(key, conversation_id.encode("utf-8", "replace"))
        storage.set(head_key(conversation_id), key.removeprefix(KEY_PREFIX).encode())
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


def _load(storage: Any, key: str) -> str | None:
    try:
        found = storage.get(key)
    except Exception as exc:  # Dify says "load data failed..." for an unknown key; any failure means "none"
        logger.debug("nothing remembered under %s: %s", key, exc)
        return None
    text = found.decode("utf-8", "replace").strip() if isinstance(found, bytes) else ""
    return text or None
