"""Client ID Metadata Documents: fetched from public addresses only, within size and time, never redirected,
checked, kept a while. The policy runs against a resolver and a transport of the test's; the real transport runs
against a local TLS server."""

import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.core.errors import RelayError
from relay.oauth import documents
from relay.oauth.documents import (
    MAX_DOCUMENT_BYTES,
    Fetched,
    FetchError,
    HttpsTransport,
    MetadataDocuments,
    non_public_reason,
)

URL = "https://client.example.com/oauth/client.json"
PUBLIC = "93.184.215.14"
DOCUMENT = {
    "client_id": URL,
    "client_name": "Example MCP client",
    "redirect_uris": ["https://client.example.com/callback", "http://127.0.0.1:3000/callback"],
    "token_endpoint_auth_method": "none",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Served:
    """A transport answering from memory; ``seconds``: how long each answer takes on the test's clock."""

    def __init__(self, clock: Clock, status: int = 200, body: bytes | None = None, seconds: float = 0.1) -> None:
        self.clock, self.status, self.seconds = clock, status, seconds
        self.body = json.dumps(DOCUMENT).encode() if body is None else body
        self.calls: list[tuple[str, str, int, str]] = []

    def get(self, address, host, port, target, seconds, limit):
        self.calls.append((address, host, port, target))
        self.clock.now += self.seconds
        return Fetched(self.status, self.body[: limit + 1])


def fetcher(addresses=(PUBLIC,), **served) -> tuple[MetadataDocuments, Served, list[str]]:
    clock = Clock()
    transport = Served(clock, **served)
    resolved: list[str] = []

    def resolver(host, port):
        resolved.append(host)
        return list(addresses)

    return MetadataDocuments(resolver, transport, clock), transport, resolved


def refused(documents_of: MetadataDocuments, url: str = URL) -> str:
    with pytest.raises(RelayError) as caught:
        documents_of(url)
    assert (caught.value.status, caught.value.code) == (401, "invalid_client")
    return caught.value.message


def test_a_document_names_its_client_and_is_kept_a_while():
    documents_of, transport, resolved = fetcher()
    client = documents_of(URL)
    assert client.client_id == URL and client.document and client.name == "Example MCP client"
    assert client.redirect_uris == tuple(DOCUMENT["redirect_uris"])
    assert transport.calls == [(PUBLIC, "client.example.com", 443, "/oauth/client.json")]
    documents_of(URL)
    assert len(transport.calls) == 1 and resolved == ["client.example.com"]
    transport.clock.now += documents.CACHE_SECONDS + 1
    documents_of(URL)
    assert len(transport.calls) == 2


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::",
    ],
)
def test_a_host_with_any_private_address_is_never_fetched(address):
    documents_of, transport, _ = fetcher(addresses=(PUBLIC, address))
    assert "which this server never fetches" in refused(documents_of)
    assert transport.calls == []


def test_the_connection_goes_to_the_address_checked_resolved_once_no_rebinding():
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    clock = Clock()
    transport = Served(clock)
    documents_of = MetadataDocuments(lambda host, port: next(answers), transport, clock)
    documents_of(URL)
    assert transport.calls[0][0] == PUBLIC  # the address checked, not a second resolution


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://client.example.com/", "no path"),
        ("https://client.example.com", "no path"),
        ("https://user@client.example.com/c.json", "names a user"),
        ("https://client.example.com/c.json#x", "names a user or has a fragment"),
        ("https://client.example.com:99999/c.json", "cannot be read"),
        ("https://client.example.com/" + "a" * 600, "at most 512"),
        ("https://client.example.com/\u00e9", "characters a URL cannot"),
    ],
)
def test_client_id_urls_are_checked_before_anything_is_resolved(url, said):
    documents_of, transport, resolved = fetcher()
    assert said in refused(documents_of, url)
    assert resolved == [] and transport.calls == []


def test_a_huge_document_is_refused():
    documents_of, _, _ = fetcher(body=b"{" + b" " * (MAX_DOCUMENT_BYTES + 100) + b"}")
    assert f"larger than {MAX_DOCUMENT_BYTES} bytes" in refused(documents_of)


def test_a_slow_document_is_refused():
    documents_of, _, _ = fetcher(seconds=documents.FETCH_SECONDS + 1)
    assert "did not answer within 3 seconds" in refused(documents_of)


@pytest.mark.parametrize(("status", "said"), [(302, "redirect, which is not followed"), (404, "HTTP 404")])
def test_anything_but_a_200_is_refused_redirects_included(status, said):
    documents_of, _, _ = fetcher(status=status)
    assert said in refused(documents_of)


@pytest.mark.parametrize(
    ("document", "said"),
    [
        (b"<html>", "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps(DOCUMENT | {"client_id": "https://other.example.com/c.json"}).encode(), "is not its own URL"),
        (json.dumps(DOCUMENT | {"redirect_uris": ["http://evil.example/cb"]}).encode(), "neither https"),
        (json.dumps({k: v for k, v in DOCUMENT.items() if k != "redirect_uris"}).encode(), "at least one URI"),
        (json.dumps(DOCUMENT | {"token_endpoint_auth_method": "private_key_jwt"}).encode(), "only none"),
        (json.dumps(DOCUMENT | {"client_name": "x" * 500}).encode(), "client_name"),
    ],
)
def test_a_document_that_is_not_a_client_of_its_own_url_is_refused(document, said):
    documents_of, _, _ = fetcher(body=document)
    assert said in refused(documents_of)


def test_a_failure_is_kept_briefly_so_a_url_is_not_fetched_in_a_loop():
    documents_of, transport, _ = fetcher(status=500)
    refused(documents_of)
    refused(documents_of)
    assert len(transport.calls) == 1
    transport.clock.now += documents.FAILURE_SECONDS + 1
    refused(documents_of)
    assert len(transport.calls) == 2


def test_the_cache_is_bounded():
    documents_of, _, _ = fetcher()
    for n in range(documents.MAX_CACHED + 10):
        url = f"https://client.example.com/{n}.json"
        with pytest.raises(RelayError):  # its client_id is not its URL; the failure is kept all the same
            documents_of(url)
    assert len(documents_of._cache) == documents.MAX_CACHED


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_public(address):
    assert non_public_reason(address) is None


# -- the real transport, against a local TLS server --------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Iterator[tuple[int, ssl.SSLContext, dict[str, tuple[int, bytes]]]]:
    """A TLS server on 127.0.0.1 whose certificate names ``client.test`` only; its answers by path."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("client.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    answers: dict[str, tuple[int, bytes]] = {}
    hold = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/silent":
                hold.wait(5)
                return
            status, body = answers[self.path]
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "https://client.test/elsewhere")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serving_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving_context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server.socket = serving_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    yield server.server_address[1], client_context, answers
    hold.set()
    server.shutdown()
    server.server_close()


def test_the_transport_connects_to_the_given_address_with_tls_for_the_host_name(tls):
    port, context, answers = tls
    answers["/client.json"] = (200, b'{"ok": true}')
    # client.test resolves nowhere: the connection goes to the address given, TLS checks the name
    fetched = HttpsTransport(context).get("127.0.0.1", "client.test", port, "/client.json", 3.0, 1024)
    assert fetched == Fetched(200, b'{"ok": true}')
    with pytest.raises(FetchError, match="could not be fetched"):
        HttpsTransport(context).get("127.0.0.1", "other.test", port, "/client.json", 3.0, 1024)
    with pytest.raises(FetchError):  # a certificate no authority vouches for
        HttpsTransport().get("127.0.0.1", "client.test", port, "/client.json", 3.0, 1024)


def test_the_transport_stops_reading_past_the_limit_and_follows_no_redirect(tls):
    port, context, answers = tls
    answers["/huge.json"] = (200, b"x" * 1_000_000)
    answers["/moved.json"] = (302, b"")
    huge = HttpsTransport(context).get("127.0.0.1", "client.test", port, "/huge.json", 3.0, 5 * 1024)
    assert 5 * 1024 < len(huge.body) <= 6 * 1024
    assert HttpsTransport(context).get("127.0.0.1", "client.test", port, "/moved.json", 3.0, 1024).status == 302


def test_the_transport_gives_up_at_its_deadline(tls):
    port, context, _ = tls
    with pytest.raises(FetchError, match="did not answer"):
        HttpsTransport(context).get("127.0.0.1", "client.test", port, "/silent", 0.3, 1024)


def test_nothing_listens_is_a_fetch_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError):
        HttpsTransport().get("127.0.0.1", "client.test", port, "/c.json", 1.0, 1024)


def test_the_system_resolver_gives_addresses():
    assert documents.system_resolver("localhost", 443)
    assert all(ipaddress.ip_address(address) for address in documents.system_resolver("127.0.0.1", 443))
