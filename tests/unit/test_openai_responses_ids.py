"""Response ids and the kept responses, in-process: an id carries its conversation for its own caller only, and the
store stays within its bounds whatever the callers do."""

import base64
import random
import re
import uuid
from dataclasses import replace

import pytest

from relay.core import conversations
from relay.core.access import ANONYMOUS, Caller
from relay.core.served import FileSigner
from relay.openai_responses import kept
from relay.openai_responses.ids import ResponseIds, ResponseRef, Slot
from relay.openai_responses.kept import KeptResponses
from tests.declarations import manifest
from tests.fakes import FakeStorage

APP = "6f1c2a9e-3b7d-4c1e-9a2f-0d4b5c6e7f80"
CONVERSATION = "0d4b5c6e-7f80-4c1e-9a2f-6f1c2a9e3b7d"
ALICE, BOB = Caller.of_key("alice-key"), Caller.of_key("bob-key")


SLOT = Slot(3, 5)


def ref(conversation: str | None = CONVERSATION, slot: Slot | None = SLOT) -> ResponseRef:
    return ResponseRef(APP, conversation, 1_800_000_000, b"\x01" * 8, slot)


def test_an_id_reads_back_as_what_it_was_made_from():
    storage = FakeStorage()
    ids = ResponseIds(storage, "endpoint-1", ALICE)
    for made in (ref(), ref(conversation=None), ref(slot=None)):
        response_id = ids.make(made)
        assert re.fullmatch(r"resp_[A-Za-z0-9_-]{60,90}", response_id)
        assert ids.read(response_id) == made
    assert ResponseIds(storage, "endpoint-1", ALICE).read(ids.make(ref())) == ref()  # the secret is kept


def test_an_id_is_nobody_elses_another_caller_another_endpoint_or_a_changed_byte():
    storage = FakeStorage()
    response_id = ResponseIds(storage, "endpoint-1", ALICE).make(ref())
    assert ResponseIds(storage, "endpoint-1", BOB).read(response_id) is None
    assert ResponseIds(storage, "endpoint-1", ANONYMOUS).read(response_id) is None
    assert ResponseIds(storage, "endpoint-2", ALICE).read(response_id) is None
    ids = ResponseIds(storage, "endpoint-1", ALICE)
    for at in range(len("resp_"), len(response_id)):
        changed = response_id[:at] + ("A" if response_id[at] != "A" else "B") + response_id[at + 1 :]
        assert ids.read(changed) is None or ids.read(changed) == ref()  # base64's last character has spare bits


@pytest.mark.parametrize("text", [None, 7, "", "resp_", "resp_!!!", "msg_abc", "resp_" + "A" * 200, "resp_AAAA"])
def test_anything_else_is_no_id(text):
    assert ResponseIds(FakeStorage(), "endpoint-1", ALICE).read(text) is None


def test_an_id_does_not_show_the_conversation_it_continues():
    # A Dify conversation id is a bearer capability elsewhere (conversation_id): a leaked response id hands none out.
    ids = ResponseIds(FakeStorage(), "endpoint-1", ALICE)
    token = ids.make(ref()).removeprefix("resp_")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert uuid.UUID(CONVERSATION).bytes not in raw and uuid.UUID(APP).bytes not in raw
    assert ids.make(ref()) != ids.make(replace(ref(), nonce=b"\x02" * 8))


def test_a_conversation_id_that_is_not_difys_is_left_out():
    ids = ResponseIds(FakeStorage(), "endpoint-1", ALICE)
    assert ids.read(ids.make(ref(conversation="conv-1"))).conversation_id is None


def test_file_addresses_and_response_ids_cannot_stand_for_each_other():
    storage = FakeStorage()
    signer = FileSigner(storage, "endpoint-1")
    token = signer.token("a" * 32, 1_900_000_000)
    ids = ResponseIds(storage, "endpoint-1", ANONYMOUS)
    assert ids.read("resp_" + token) is None
    assert signer.check(ids.make(ref()).removeprefix("resp_"), now=0) is None
    assert list(storage.values) == ["ar2:files-secret"]  # one secret; the ids' key is derived from it


def test_a_kept_response_is_found_by_its_own_caller_only():
    storage = FakeStorage()
    mine = KeptResponses(storage, "endpoint-1", ALICE)
    slot = mine.reserve(now=1000)
    assert mine.keep(slot, b"n" * 8, {"id": "resp_1", "output": []}, now=1000)
    assert mine.find(slot, b"n" * 8, now=1001).document == {"id": "resp_1", "output": []}
    assert KeptResponses(storage, "endpoint-1", BOB).find(slot, b"n" * 8, now=1001).document is None
    assert mine.find(slot, b"m" * 8, now=1001).document is None  # another response of that slot
    assert mine.find(slot, b"n" * 8, now=1000 + kept.KEPT_SECONDS + 1).reason == "expired"
    assert mine.find(Slot(99, 0), b"n" * 8).reason == "gone"


def test_each_caller_keeps_its_last_responses_and_a_large_one_is_said_to_be_too_large():
    storage = FakeStorage()
    mine = KeptResponses(storage, "endpoint-1", ALICE)
    slots = [mine.reserve(now=1000 + n) for n in range(kept.KEPT_PER_CALLER + 1)]
    for number, slot in enumerate(slots):
        mine.keep(slot, bytes([number]) * 8, {"number": number}, now=1000 + number)
    assert slots[0] == slots[-1]  # the ninth took the first one's slot
    assert mine.find(slots[0], bytes([0]) * 8, now=1100).document is None
    assert mine.find(slots[1], bytes([1]) * 8, now=1100).document == {"number": 1}
    noise = random.Random(1).randbytes(kept.MAX_RECORD_BYTES).hex()  # incompressible
    slot = mine.reserve(now=1200)
    assert not mine.keep(slot, b"z" * 8, {"text": noise}, now=1200)
    assert mine.find(slot, b"z" * 8, now=1201).reason == "too_large"
    huge = mine.reserve(now=1300)
    assert not mine.keep(huge, b"h" * 8, {"text": "x" * kept.MAX_DOCUMENT_BYTES}, now=1300)  # not even compressed
    assert mine.find(huge, b"h" * 8, now=1301).reason == "too_large"


def test_a_new_caller_takes_over_the_share_used_least_recently():
    storage = FakeStorage()
    callers = [KeptResponses(storage, "endpoint-1", Caller.of_key(f"key-{n}")) for n in range(kept.MAX_CALLERS)]
    kept_slots = {}
    for n, caller in enumerate(callers):
        kept_slots[n] = caller.reserve(now=1000 + n)
        caller.keep(kept_slots[n], b"k" * 8, {"caller": n}, now=1000 + n)
    callers[0].reserve(now=2000)  # the first caller is active again: the second is now the least recent
    newcomer = KeptResponses(storage, "endpoint-1", Caller.of_key("key-new"))
    taken = newcomer.reserve(now=2001)
    assert taken.share == kept_slots[1].share
    newcomer.keep(taken, b"k" * 8, {"caller": "new"}, now=2001)
    assert newcomer.find(taken, b"k" * 8, now=2002).document == {"caller": "new"}
    for _ in range(kept.KEPT_PER_CALLER - 1):  # slot by slot, the newcomer's responses replace the old ones
        newcomer.keep(newcomer.reserve(now=2003), b"j" * 8, {"caller": "new"}, now=2003)
    assert callers[1].find(kept_slots[1], b"k" * 8, now=2004).document is None
    assert callers[2].find(kept_slots[2], b"k" * 8, now=2002).document == {"caller": 2}


def test_storage_holds_no_more_than_its_bound_whatever_the_callers_do():
    storage = FakeStorage()
    chance = random.Random(7)
    for step in range(600):
        who = KeptResponses(storage, f"endpoint-{chance.randrange(3)}", Caller.of_key(f"key-{chance.randrange(12)}"))
        slot = who.reserve(now=step)
        text = chance.randbytes(chance.randrange(1, 5000)).hex()
        who.keep(slot, chance.randbytes(8), {"output_text": text}, now=step)
    assert storage.size <= kept.MAX_KEPT_BYTES
    assert len(storage.values) <= kept.MAX_CALLERS * (kept.KEPT_PER_CALLER + 1) + 1


def test_kept_responses_and_conversations_fit_the_manifests_storage_quota_together():
    secret = 64
    quota = manifest()["resource"]["permission"]["storage"]["size"]
    assert conversations.MAX_SHARED_BYTES + kept.MAX_KEPT_BYTES + secret <= quota


def test_without_storage_nothing_is_reserved_and_nothing_fails():
    storage = FakeStorage(writable=False, readable=False)
    assert KeptResponses(storage, "endpoint-1", ALICE).reserve() is None
    ids = ResponseIds(storage, "endpoint-1", ALICE)
    assert ids.read(ids.make(ref(slot=None))) == ref(slot=None)  # a process-wide secret signs meanwhile
