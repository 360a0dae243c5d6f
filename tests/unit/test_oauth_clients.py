"""Dynamic Client Registration: bounded, checked, signed; hostile registrations are RFC 7591 errors."""

import json

import pytest

from relay.core.errors import RelayError
from relay.oauth.clients import (
    MAX_REDIRECT_URIS,
    client_secret,
    redirect_uri_problem,
    register,
    registered_client,
)
from relay.oauth.signing import Signer, forget_secrets
from tests.fakes import FakeStorage


@pytest.fixture
def signer():
    forget_secrets()
    yield Signer(FakeStorage(), "endpoint-1", "https://dify.example.com/e/hook-1")
    forget_secrets()


def registration(signer, **metadata):
    return register(
        json.dumps({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]} | metadata).encode(), signer
    )


def refusal(signer, body: bytes) -> tuple[int, str, str]:
    with pytest.raises(RelayError) as caught:
        register(body, signer)
    return caught.value.status, caught.value.code, caught.value.message


@pytest.mark.parametrize(
    "uri",
    [
        "https://claude.ai/api/mcp/auth_callback",
        "https://chatgpt.com/connector_platform_oauth_redirect",
        "http://127.0.0.1:33418/callback",
        "http://[::1]:8080/cb",
        "http://localhost:6274/oauth/callback",
        "https://app.example.com/cb?tenant=1",
    ],
)
def test_https_and_loopback_redirect_uris_are_accepted(uri):
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    ("uri", "said"),
    [
        ("http://app.example.com/cb", "neither https nor http on a loopback"),
        ("http://127.0.0.2.nip.io/cb", "neither https"),
        ("javascript:alert(1)", "neither https"),
        ("cursor://anysphere.cursor-retrieval/oauth/callback", "neither https"),
        ("https://app.example.com/cb#frag", "fragment"),
        ("https://user:pw@app.example.com/cb", "names a user"),
        ("https://app.example.com/c b", "characters a URI cannot"),
        ("https://app.example.com/\u00e9", "characters a URI cannot"),
        ("https://" + "a" * 600 + ".example/cb", "longer than 512"),
        ("https://app.example.com:99999/cb", "cannot be read"),
        (42, "not a string"),
    ],
)
def test_other_redirect_uris_are_refused_saying_why(uri, said):
    assert said in redirect_uri_problem(uri)


def test_a_registration_is_a_signed_client_id_holding_it_all(signer):
    answer = registration(signer, client_name="  Claude \u0000\u202e ", grant_types=["authorization_code"])
    client = registered_client(answer["client_id"], signer)
    assert client.redirect_uris == ("https://claude.ai/api/mcp/auth_callback",)
    assert client.name == "Claude" and client.auth_method == "none"
    assert answer["grant_types"] == ["authorization_code"] and answer["response_types"] == ["code"]
    assert registered_client(answer["client_id"] + "x", signer) is None


def test_a_client_asking_for_a_secret_gets_a_mac_of_its_id(signer):
    answer = registration(signer, token_endpoint_auth_method="client_secret_post")
    assert answer["client_secret"] == client_secret(signer, answer["client_id"])
    assert answer["client_secret_expires_at"] == 0


@pytest.mark.parametrize(
    ("body", "status", "code", "said"),
    [
        (b"x" * (8 * 1024 + 1), 413, "invalid_client_metadata", "at most 8192 bytes"),
        (b"not json", 400, "invalid_client_metadata", "not JSON"),
        (b"[" * 5000, 400, "invalid_client_metadata", "not JSON"),
        (b"[]", 400, "invalid_client_metadata", "JSON object"),
        (b"{}", 400, "invalid_redirect_uri", "at least one URI"),
        (json.dumps({"redirect_uris": "https://a.example/cb"}).encode(), 400, "invalid_redirect_uri", "list"),
        (
            json.dumps({"redirect_uris": [f"https://a.example/{n}" for n in range(MAX_REDIRECT_URIS + 1)]}).encode(),
            400,
            "invalid_redirect_uri",
            "At most 8",
        ),
        (
            json.dumps({"redirect_uris": [f"https://a.example/{n}/" + "p" * 480 for n in range(5)]}).encode(),
            400,
            "invalid_redirect_uri",
            "2048 characters in all",
        ),
        (json.dumps({"redirect_uris": ["http://evil.example/cb"]}).encode(), 400, "invalid_redirect_uri", "evil"),
        (
            json.dumps({"redirect_uris": ["https://a.example/cb"], "client_name": "n" * 101}).encode(),
            400,
            "invalid_client_metadata",
            "client_name",
        ),
        (
            json.dumps(
                {"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}
            ).encode(),
            400,
            "invalid_client_metadata",
            "not supported",
        ),
        (
            json.dumps({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}).encode(),
            400,
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            json.dumps({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}).encode(),
            400,
            "invalid_client_metadata",
            "response_types",
        ),
    ],
)
def test_hostile_registrations_are_refused_with_rfc_7591_errors(signer, body, status, code, said):
    got_status, got_code, message = refusal(signer, body)
    assert (got_status, got_code) == (status, code)
    assert said in message
    assert len(message) < 500  # nothing a client sent is echoed at length
