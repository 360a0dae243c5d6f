"""Which Dify conversation a caller's chat history belongs to, kept in plugin storage: bounded, expiring, per caller.

Chat clients (OpenAI's, among others) resend the whole history with every request; Dify keeps a chat app's memory
in a conversation. After each answer the plugin notes which Dify conversation the history *including that answer*
belongs to, under a digest of the endpoint, the app, the caller (the fingerprint of its api key), the ``user`` field
and the turns. The next request that carries that history plus one new message finds the conversation by the same
digest and continues it. Each conversation also has a *head* (the digest of the last history it answered): Dify
cannot branch a conversation, so a history it has moved past (a regenerated answer, an edited message) is not
continued there.

Who may continue what: the digest holds the caller's fingerprint, so a caller with another key never finds (nor
overwrites) a conversation it did not start. On an endpoint without api keys nobody can be told apart, so nothing
is noted at all: there a history always travels as the context of a new conversation (``with_context``).

Storage layout (version 2; every key and value ASCII, keys far below the daemon's 256 bytes):

* ``ar2:h:<32 hex>`` — a history's entry: ``<conversation id> <unix time>``;
* ``ar2:c:<32 hex>`` — a conversation's head: the 32-hex digest of its last history;
* ``ar2:e`` — the endpoints that have a share: up to ``MAX_ENDPOINTS`` 16-hex digests, by share;
* ``ar2:o`` — which share a new endpoint takes over next, once every share is taken;
* ``ar2:n:<share>`` — a share's next slot; ``ar2:s:<share>:<slot>`` — which entry and head a slot holds.

Each endpoint writes into its own *share* of ``SLOTS_PER_SHARE`` slots, round robin: the answer that takes a slot
removes the entry it held before (and that conversation's head, if the conversation has not moved on since), so an
endpoint keeps its last ``SLOTS_PER_SHARE`` answers, oldest first out, and no burst on one endpoint removes another
endpoint's. A ninth endpoint takes over the share of the one registered longest ago. So storage never holds more
than ``MAX_ENDPOINTS * SLOTS_PER_SHARE`` slots of at most ``MAX_SLOT_BYTES`` each: less than half of the manifest's
quota (``tests`` check it). An entry older than ``MAX_AGE_SECONDS`` is not continued. Keys of version 1
(``openai-conversation-...``) are no longer read: continuity restarts after the upgrade (see the CHANGELOG).
"""

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from relay.core import shares
from relay.core.access import Caller
from relay.core.dify import Storage

logger = logging.getLogger(__name__)

PREFIX = "ar2:"
MAX_ENDPOINTS = 8
SLOTS_PER_SHARE = 256
MAX_AGE_SECONDS = 30 * 24 * 3600
"""A conversation unused this long is not continued: storage is no archive."""
MAX_CONVERSATION_ID_CHARS = 128
"""A conversation id longer than this is not Dify's (its ids are UUIDs): it is not stored."""
MAX_SLOT_BYTES = (32 + 1 + 32) + (MAX_CONVERSATION_ID_CHARS + 1 + 12) + 32
"""What one slot can hold in values (Dify counts values against the quota): the slot, its entry, its head."""
MAX_SHARED_BYTES = (16 + 1) * MAX_ENDPOINTS + MAX_ENDPOINTS * (8 + SLOTS_PER_SHARE * MAX_SLOT_BYTES)
"""Everything the conversations can hold in storage at once."""


@dataclass(frozen=True)
class Turn:
    """One message of a chat history, as continuity sees it: who said it and what."""

    role: str
    text: str


class ConversationStore:
    """The conversations of one endpoint, bound to their callers."""

    def __init__(self, storage: Storage, endpoint_id: str) -> None:
        self.storage = storage
        self.endpoint = _digest("endpoint", endpoint_id)[:16]

    def history_key(self, caller: Caller, app_id: str, user: str | None, turns: Sequence[Turn]) -> str | None:
        """The digest a history is noted under for ``caller``; ``None`` where callers cannot be told apart."""
        if not caller.known:
            return None
        canonical = json.dumps(
            [self.endpoint, caller.fingerprint, app_id, user or "", [[turn.role, turn.text.strip()] for turn in turns]],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return _digest("history", canonical)

    def recall(self, key: str | None) -> str | None:
        """The Dify conversation a history belongs to, if one is noted, recent, and has not moved on since."""
        if key is None:
            return None
        entry = shares.load(self.storage, PREFIX + "h:" + key)
        if entry is None:
            return None
        conversation_id, _, written = entry.rpartition(" ")
        if not conversation_id or not written.isdigit() or time.time() - int(written) > MAX_AGE_SECONDS:
            return None
        head = shares.load(self.storage, self._head_key(conversation_id))
        if head is not None and head != key:
            return None  # the conversation went on past this history (a regenerated answer): Dify cannot branch it
        return conversation_id

    def remember(self, key: str | None, conversation_id: str) -> bool:
        """Note that the history under ``key`` belongs to ``conversation_id``, and is now its head."""
        if key is None or not conversation_id or len(conversation_id) > MAX_CONVERSATION_ID_CHARS:
            return False
        if not conversation_id.isascii() or not conversation_id.isprintable() or " " in conversation_id:
            return False
        head_key = self._head_key(conversation_id)
        try:
            share = shares.share_of(self.storage, PREFIX, self.endpoint, MAX_ENDPOINTS)
            slot = self._take_slot(share)
            self._evict(slot)
            self.storage.set(slot, f"{key} {head_key.removeprefix(PREFIX + 'c:')}".encode())
            self.storage.set(PREFIX + "h:" + key, f"{conversation_id} {int(time.time())}".encode())
            self.storage.set(head_key, key.encode())
        except Exception as exc:
            # Storage full or not enabled: the next request sends its history as context instead.
            logger.warning("could not remember a conversation in plugin storage: %s", exc)
            return False
        return True

    def _head_key(self, conversation_id: str) -> str:
        return PREFIX + "c:" + _digest("conversation", f"{self.endpoint}\0{conversation_id}")

    def _take_slot(self, share: int) -> str:
        at = shares.next_slot(self.storage, PREFIX, share, SLOTS_PER_SHARE)
        shares.advance(self.storage, PREFIX, share, at, SLOTS_PER_SHARE)
        return shares.slot_key(PREFIX, share, at)

    def _evict(self, slot: str) -> None:
        """Remove what a slot held before it is reused: the entry, and the head if it still points there."""
        held = shares.load(self.storage, slot)
        if held is None:
            return
        entry, _, head = held.partition(" ")
        shares.delete(self.storage, PREFIX + "h:" + entry)
        if head and shares.load(self.storage, PREFIX + "c:" + head) == entry:
            shares.delete(self.storage, PREFIX + "c:" + head)


def with_context(history: Sequence[Turn], question: str) -> str:
    """The query for a new conversation that must know what was said before (Dify has no memory of it)."""
    lines = [f"{turn.role}: {turn.text}" for turn in history if turn.text.strip()]
    if not lines:
        return question
    return "[Conversation so far]\n" + "\n".join(lines) + "\n\n[New message]\n" + question


def _digest(purpose: str, text: str) -> str:
    return hashlib.sha256(f"app-relay {purpose}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
