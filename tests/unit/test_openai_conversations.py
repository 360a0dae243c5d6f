"""Conversations remembered in plugin storage: continued by their history, never branched, bounded in size."""

from relay.openai_compat.conversations import KEY_PREFIX, head_key, history_key, recall, remember
from relay.openai_compat.request import Message


class Storage:
    """Dify's plugin storage as the SDK shows it: bytes in, bytes out, an exception for an unknown key."""

    def __init__(self, *, broken: bool = False) -> None:
        self.values: dict[str, bytes] = {}
        self.broken = broken

    def set(self, key: str, value: bytes) -> None:
        if self.broken:
            raise Exception("save data failed: allocated size is greater than max storage size")
        self.values[key] = value

    def get(self, key: str) -> bytes:
        if key not in self.values:
            raise Exception("load data failed, please check if the key is correct or you have not set it")
        return self.values[key]


def key_of(*texts: str) -> str:
    roles = ("user", "assistant")
    return history_key("endpoint", "app", None, [Message(roles[i % 2], text) for i, text in enumerate(texts)])


def test_a_history_is_continued_while_it_is_the_conversations_latest():
    storage = Storage()
    assert remember(storage, key_of("one", "answer one"), "conv-1")
    assert recall(storage, key_of("one", "answer one")) == "conv-1"
    assert remember(storage, key_of("one", "answer one", "two", "answer two"), "conv-1")
    assert recall(storage, key_of("one", "answer one", "two", "answer two")) == "conv-1"


def test_a_history_the_conversation_moved_past_is_not_continued():
    # Regenerating the second answer resends the history before it: Dify's conversation already holds that turn.
    storage = Storage()
    remember(storage, key_of("one", "answer one"), "conv-1")
    remember(storage, key_of("one", "answer one", "two", "answer two"), "conv-1")
    assert recall(storage, key_of("one", "answer one")) is None


def test_each_answer_costs_one_entry_and_each_conversation_one_head():
    storage = Storage()
    conversation = "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a"
    for turn in range(1, 4):
        remember(storage, key_of(*[f"m{i}" for i in range(2 * turn)]), conversation)
    heads = [key for key in storage.values if key == head_key(conversation)]
    answers = [key for key in storage.values if key not in heads]
    assert len(answers) == 3 and len(heads) == 1
    assert {len(storage.values[key]) for key in answers} == {36}
    assert len(storage.values[heads[0]]) == 64
    assert {len(key) for key in answers} == {len(KEY_PREFIX) + 64}


def test_whitespace_around_a_message_does_not_change_its_history():
    assert key_of("one", "answer one\n") == key_of(" one", "answer one")


def test_nothing_is_remembered_that_storage_refuses_or_that_is_not_a_conversation_id():
    assert not remember(Storage(broken=True), key_of("a", "b"), "conv-1")
    storage = Storage()
    assert not remember(storage, key_of("a", "b"), "x" * 3_000_000)
    assert storage.values == {}
    assert recall(storage, key_of("a", "b")) is None
