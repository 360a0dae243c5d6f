"""Conversations noted in plugin storage: per caller, never branched, bounded per endpoint, oldest first out."""

import time

from relay.core import conversations
from relay.core.access import ANONYMOUS, Caller
from relay.core.conversations import ConversationStore, Turn
from tests.declarations import manifest
from tests.unit.conftest import FakeStorage

CALLER = Caller.of_key("key")
CONVERSATION = "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a"


def key_of(store: ConversationStore, *texts: str, caller: Caller = CALLER) -> str | None:
    roles = ("user", "assistant")
    return store.history_key(caller, "app", None, [Turn(roles[i % 2], text) for i, text in enumerate(texts)])


def test_a_history_is_continued_while_it_is_the_conversations_latest():
    store = ConversationStore(FakeStorage(), "endpoint")
    assert store.remember(key_of(store, "one", "answer one"), "conv-1")
    assert store.recall(key_of(store, "one", "answer one")) == "conv-1"
    assert store.remember(key_of(store, "one", "answer one", "two", "answer two"), "conv-1")
    assert store.recall(key_of(store, "one", "answer one", "two", "answer two")) == "conv-1"


def test_a_history_the_conversation_moved_past_is_not_continued():
    # Regenerating the second answer resends the history before it: Dify's conversation already holds that turn.
    store = ConversationStore(FakeStorage(), "endpoint")
    store.remember(key_of(store, "one", "answer one"), "conv-1")
    store.remember(key_of(store, "one", "answer one", "two", "answer two"), "conv-1")
    assert store.recall(key_of(store, "one", "answer one")) is None


def test_whitespace_around_a_message_does_not_change_its_history():
    store = ConversationStore(FakeStorage(), "endpoint")
    assert key_of(store, "one", "answer one\n") == key_of(store, " one", "answer one")


def test_keys_never_hold_the_api_key_and_callers_endpoints_and_anonymous_callers_differ():
    storage = FakeStorage()
    store = ConversationStore(storage, "endpoint")
    store.remember(key_of(store, "hello", "hi"), CONVERSATION)
    assert not any("key" in key or b"key" in value for key, value in storage.values.items())
    other = ConversationStore(storage, "another endpoint")
    assert key_of(store, "hello", "hi") != key_of(other, "hello", "hi")
    assert key_of(store, "hello", "hi") != key_of(store, "hello", "hi", caller=Caller.of_key("other"))
    assert key_of(store, "hello", "hi", caller=ANONYMOUS) is None
    assert store.recall(None) is None and not store.remember(None, CONVERSATION)


def test_nothing_is_remembered_that_storage_refuses_or_that_is_not_a_conversation_id():
    store = ConversationStore(FakeStorage(writable=False), "endpoint")
    assert not store.remember(key_of(store, "a", "b"), "conv-1")
    storage = FakeStorage()
    store = ConversationStore(storage, "endpoint")
    assert not store.remember(key_of(store, "a", "b"), "x" * 3_000_000)
    assert not store.remember(key_of(store, "a", "b"), "two words")
    assert storage.values == {}
    assert store.recall(key_of(store, "a", "b")) is None


def test_an_old_entry_is_not_continued(monkeypatch):
    store = ConversationStore(FakeStorage(), "endpoint")
    store.remember(key_of(store, "a", "b"), "conv-1")
    later = time.time() + conversations.MAX_AGE_SECONDS + 60
    monkeypatch.setattr(conversations.time, "time", lambda: later)
    assert store.recall(key_of(store, "a", "b")) is None


def test_an_endpoint_keeps_its_last_answers_oldest_first_out_and_others_keep_theirs(monkeypatch):
    monkeypatch.setattr(conversations, "SLOTS_PER_SHARE", 4)
    storage = FakeStorage()
    quiet = ConversationStore(storage, "quiet endpoint")
    quiet.remember(key_of(quiet, "mine", "kept"), "quiet-conv")
    busy = ConversationStore(storage, "busy endpoint")
    for number in range(40):
        busy.remember(key_of(busy, f"burst {number}", "answer"), f"conv-{number}")
    assert quiet.recall(key_of(quiet, "mine", "kept")) == "quiet-conv"
    kept = [number for number in range(40) if busy.recall(key_of(busy, f"burst {number}", "answer"))]
    assert kept == [36, 37, 38, 39]
    entries = [key for key in storage.values if key.startswith("ar2:h:")]
    assert len(entries) == 5


def test_every_endpoint_and_every_burst_stays_within_half_the_manifests_quota():
    storage = FakeStorage()
    for endpoint in range(conversations.MAX_ENDPOINTS + 3):
        store = ConversationStore(storage, f"endpoint {endpoint}")
        for number in range(conversations.SLOTS_PER_SHARE + 20):
            store.remember(key_of(store, f"{number}", "a"), f"{CONVERSATION[:-4]}{number:04d}")
    assert storage.size <= conversations.MAX_SHARED_BYTES
    assert manifest()["resource"]["permission"]["storage"]["size"] // 2 >= conversations.MAX_SHARED_BYTES
