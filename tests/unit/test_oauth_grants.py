"""What OAuth remembers: families in bounded, round-robin shares of plugin storage, far below its quota."""

import pytest

from relay.oauth import grants
from relay.oauth.grants import (
    CODE_SECONDS,
    FAMILIES_PER_ENDPOINT,
    MAX_ENDPOINTS,
    MAX_STORED_BYTES,
    Busy,
    Grants,
    StorageUnavailable,
    new_family_id,
)
from tests import declarations
from tests.fakes import FakeStorage


def test_a_family_is_found_advanced_and_revoked():
    store = Grants(FakeStorage(), "a" * 16)
    family = store.start(new_family_id(), now=1000)
    assert store.find(family.ident) == family and family.generation == 0 and not family.revoked
    advanced = store.advance(family)
    assert store.find(family.ident).generation == 1 == advanced.generation
    store.revoke(advanced)
    assert store.find(family.ident).revoked
    assert store.find(new_family_id()) is None and store.find("../x") is None


def test_an_endpoint_keeps_its_last_families_oldest_out_and_never_one_younger_than_a_code():
    storage = FakeStorage()
    store = Grants(storage, "a" * 16)
    first = [store.start(new_family_id(), now=1000) for _ in range(FAMILIES_PER_ENDPOINT)]
    with pytest.raises(Busy):  # every slot holds a family younger than a code: a code could be replayed
        store.start(new_family_id(), now=1000 + CODE_SECONDS - 1)
    newest = store.start(new_family_id(), now=1000 + CODE_SECONDS)
    assert store.find(first[0].ident) is None and store.find(first[1].ident) is not None
    assert store.find(newest.ident) is not None


def test_a_ninth_endpoint_takes_over_the_share_registered_longest_ago():
    storage = FakeStorage()
    stores = [Grants(storage, f"{n:016x}") for n in range(MAX_ENDPOINTS + 1)]
    families = [store.start(new_family_id(), now=1000) for store in stores[:MAX_ENDPOINTS]]
    for _ in range(FAMILIES_PER_ENDPOINT):
        stores[MAX_ENDPOINTS].start(new_family_id(), now=1000 + CODE_SECONDS)
    assert storage.values["ar2:oe"].decode().split(",")[0] == f"{MAX_ENDPOINTS:016x}"
    assert stores[0].find(families[0].ident) is None  # its slot was reused by the newcomer
    assert stores[1].find(families[1].ident) is not None


def test_storage_that_refuses_writes_is_said_so():
    with pytest.raises(StorageUnavailable):
        Grants(FakeStorage(writable=False), "a" * 16).start(new_family_id())


def test_everything_oauth_can_hold_stays_far_below_the_manifests_quota():
    quota = declarations.manifest()["resource"]["permission"]["storage"]["size"]
    assert quota // 8 > MAX_STORED_BYTES + 64
    # and what a full share holds in fact is within the bound
    storage = FakeStorage()
    for endpoint in range(MAX_ENDPOINTS):
        store = Grants(storage, f"{endpoint:016x}")
        for n in range(FAMILIES_PER_ENDPOINT + 5):
            store.advance(store.start(new_family_id(), now=n * (CODE_SECONDS + 1)))
    assert storage.size <= MAX_STORED_BYTES
    assert len([key for key in storage.values if key.startswith("ar2:of:")]) == MAX_ENDPOINTS * FAMILIES_PER_ENDPOINT
    assert all(len(key) < 256 for key in storage.values)


def test_a_family_record_is_small(monkeypatch):
    assert len(f"{10**12 - 1} {2**32} r") == grants.MAX_FAMILY_BYTES
