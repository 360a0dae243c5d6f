"""Signed values: each kind with its own key, bound to the endpoint and its issuer, expiring; one secret in storage."""

import pytest

from relay.core.secrets import process_secret
from relay.oauth import signing
from relay.oauth.signing import ACCESS, CODE, KINDS, REFRESH, SECRET_KEY, Signer, forget_secrets
from tests.fakes import FakeStorage

ISSUER = "https://dify.example.com/e/hook-1"


@pytest.fixture(autouse=True)
def fresh_secrets():
    forget_secrets()
    yield
    forget_secrets()


def test_a_value_opens_as_its_own_kind_only():
    signer = Signer(FakeStorage(), "endpoint-1", ISSUER)
    for kind in KINDS:
        sealed = signer.seal(kind, {"x": 1})
        assert signer.open(kind, sealed) == {"x": 1}
        for other in KINDS:
            if other != kind:
                assert signer.open(other, sealed) is None
                # the same payload and mac under another prefix: another key, so no
                assert signer.open(other, other + sealed[len(kind) :]) is None


def test_a_value_of_another_endpoint_or_issuer_or_altered_by_a_byte_is_refused():
    storage = FakeStorage()
    signer = Signer(storage, "endpoint-1", ISSUER)
    sealed = signer.seal(ACCESS, {"k": "a"})
    assert Signer(storage, "endpoint-2", ISSUER).open(ACCESS, sealed) is None
    assert Signer(storage, "endpoint-1", ISSUER + "x").open(ACCESS, sealed) is None
    assert Signer(storage, "endpoint-1", ISSUER).open(ACCESS, sealed) == {"k": "a"}
    kind, body, mac = sealed.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    assert signer.open(ACCESS, f"{kind}.{flipped}.{mac}") is None
    for junk in ("", "at1.", "at1..", "at1.a.b.c", "at1.!!.??", "at1." + "a" * 9000, None, 42):
        assert signer.open(ACCESS, junk) is None


def test_an_expired_value_is_refused():
    signer = Signer(FakeStorage(), "endpoint-1", ISSUER)
    sealed = signer.seal(CODE, {"e": 1000})
    assert signer.open(CODE, sealed, now=999) == {"e": 1000}
    assert signer.open(CODE, sealed, now=1000) is None


def test_the_secret_is_made_once_kept_in_storage_and_read_back_by_another_process():
    storage = FakeStorage()
    sealed = Signer(storage, "endpoint-1", ISSUER).seal(REFRESH, {"g": 0})
    assert len(storage.values[SECRET_KEY]) == 64
    forget_secrets()  # another copy of the plugin: nothing cached, the stored secret read
    assert Signer(storage, "endpoint-1", ISSUER).open(REFRESH, sealed) == {"g": 0}
    writes = storage.writes
    Signer(storage, "endpoint-1", ISSUER).seal(REFRESH, {})
    assert storage.writes == writes


def test_a_storage_that_cannot_keep_the_secret_gets_one_for_the_process():
    storage = FakeStorage(writable=False)
    first = Signer(storage, "endpoint-1", ISSUER)
    assert first.open(ACCESS, first.seal(ACCESS, {})) == {}
    assert Signer(storage, "endpoint-1", ISSUER).open(ACCESS, first.seal(ACCESS, {})) == {}
    assert signing.plugin_secret(storage, "endpoint-1") == process_secret(signing.SECRET_KEY)
