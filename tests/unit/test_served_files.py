"""Files sent as bytes reach Dify by URL: held by the plugin, served at signed addresses of the endpoint that
received them, for a bounded time and within a bounded size; refused where Dify could not fetch them."""

import pytest

import relay.file_links
from relay.core import served
from relay.core.dify import Dify
from relay.core.errors import RelayError
from relay.core.served import FileSigner, ServedFiles, endpoint_base, unreachable_reason
from tests.unit.conftest import FakeSession, FakeStorage, make_request, stream_of

PUBLIC = "https://dify.example.com/e/hook-1"


def fetch(session: FakeSession, url: str, method: str = "GET"):
    path = url.removeprefix(PUBLIC)
    _, token, name = path.strip("/").split("/")
    request = make_request(path, method)
    return relay.file_links.serve(session, request, {"token": token, "name": name}, {})


def test_a_file_sent_as_bytes_is_served_to_whoever_holds_its_address_without_a_key():
    session = FakeSession(stream_of())
    url = Dify(session, PUBLIC).file_url(b"hello", "text/plain", "notes.txt")
    assert url.startswith(f"{PUBLIC}/files/") and url.endswith("/notes.txt")
    response = fetch(session, url)
    assert response.status_code == 200 and response.get_data() == b"hello"
    assert response.mimetype == "text/plain" and response.headers["Cache-Control"] == "private, no-store"
    head = fetch(session, url, "HEAD")
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["Content-Length"] == "5"


def test_an_address_works_on_its_own_endpoint_only_and_not_once_forged_or_expired(monkeypatch):
    storage = FakeStorage()
    session = FakeSession(stream_of(), storage=storage)
    url = Dify(session, PUBLIC).file_url(b"hello", "text/plain", "notes.txt")
    elsewhere = FakeSession(stream_of(), storage=storage, endpoint_id="endpoint-2")
    assert fetch(elsewhere, url).status_code == 404
    token = url.split("/")[-2]
    ident, stamp, signature = token.split(".")
    later_stamp = f"{ident}.{int(stamp) + 3600}.{signature}"  # a longer life, forged
    other_file = f"{'0' * 32}.{stamp}.{signature}"
    for forged in (later_stamp, other_file):
        assert fetch(session, url.replace(token, forged)).status_code == 404
    later = served.time.time() + served.SERVED_SECONDS + 1
    monkeypatch.setattr(served.time, "time", lambda: later)
    assert fetch(session, url).status_code == 404


def test_the_signing_secret_is_made_once_and_kept_in_storage():
    storage = FakeStorage()
    first = FileSigner(storage, "e").token("a" * 32, 2_000_000_000)
    assert FileSigner(storage, "e").token("a" * 32, 2_000_000_000) == first
    assert list(storage.values) == [served.SECRET_KEY] and len(storage.values[served.SECRET_KEY]) == 64


def test_the_files_held_are_bounded_oldest_first_out():
    store = ServedFiles(limit=10)
    first, _ = store.add(b"123456", "text/plain", "a.txt", now=0)
    second, _ = store.add(b"7890ab", "text/plain", "b.txt", now=1)
    assert store.get(first, now=2) is None and store.get(second, now=2) is not None
    assert store.held_bytes == 6
    assert store.get(second, now=1 + served.SERVED_SECONDS) is None and store.held_bytes == 0


@pytest.mark.parametrize(
    "base",
    [
        "http://localhost/e/hook-1",
        "http://127.0.0.1:5002/e/hook-1",
        "http://192.168.1.20/e/hook-1",
        "http://10.0.0.5/e/hook-1",
        "http://api/e/hook-1",
        "",
    ],
)
def test_where_dify_could_not_fetch_the_address_the_file_is_refused_before_the_run(base):
    assert unreachable_reason(base) is not None
    with pytest.raises(RelayError) as refused:
        Dify(FakeSession(stream_of()), base).file_url(b"hello", "text/plain", "notes.txt")
    assert refused.value.status == 400 and "by URL" in refused.value.message


def test_the_public_base_comes_from_the_hook_url():
    assert endpoint_base("https://dify.example.com/e/hook-1/chat/x?y=1", "hook-1") == PUBLIC
    assert endpoint_base("https://dify.example.com/other/chat/x", "hook-1") == ""
    assert endpoint_base(None, "hook-1") == "" and unreachable_reason(PUBLIC) is None
