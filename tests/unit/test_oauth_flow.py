"""The endpoint's OAuth in-process: discovery, the 401 of /mcp, the authorization page, the token endpoint, and an
access token as the caller of the key that approved it. Every bad input is a clear RFC error and no token."""

import base64
import json
from typing import Any

import pytest
from werkzeug import Request, Response
from werkzeug.test import EnvironBuilder

import relay.mcp_server
import relay.oauth
from relay.core.access import ANONYMOUS, AccessSettings, Caller
from relay.core.dify import Dify
from relay.core.shell import Exchange
from relay.oauth import authorize as authorization
from relay.oauth import signing
from relay.oauth.clients import Client
from relay.oauth.signing import forget_secrets
from relay.oauth.tokens import BEARER
from tests.fakes import FakeSession, FakeStorage, stream_of
from tests.oauth import REDIRECT_URI, authorization_query, hidden, pkce, redirected

BASE = "https://dify.example.com/e/hook-1"
APP = "6f1c2a9e-3b7d-4c1e-9a2f-0d4b5c6e7f80"
SETTINGS = {"allowed_apps": f"support={APP}, workflow:outline={APP}", "api_key": "key-one, key-two"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


@pytest.fixture(autouse=True)
def fresh_secrets():
    forget_secrets()
    yield
    forget_secrets()


class Endpoint:
    """One endpoint of the plugin in-process: its storage, settings and public address."""

    def __init__(self, settings: dict[str, Any] = SETTINGS, base: str = BASE, endpoint_id: str = "endpoint-1") -> None:
        self.session = FakeSession(stream_of(), storage=FakeStorage(), endpoint_id=endpoint_id)
        self.settings = dict(settings)
        self.base = base

    def request(self, path: str, method: str = "GET", **kwargs: Any) -> Request:
        hook_id = self.base.rsplit("/", 1)[1]
        headers = {"Dify-Hook-Url": self.base + path, "Dify-Hook-Id": hook_id, **kwargs.pop("headers", {})}
        return Request(EnvironBuilder(path=path, method=method, headers=headers, **kwargs).get_environ())

    def call(self, serve: Any, path: str, method: str = "GET", **kwargs: Any) -> Response:
        return serve(self.session, self.request(path, method, **kwargs), {}, self.settings)

    def register(self, **metadata: Any) -> dict[str, Any]:
        response = self.call(
            relay.oauth.serve_register, "/oauth/register", "POST", json={"redirect_uris": [REDIRECT_URI]} | metadata
        )
        assert response.status_code == 201, text(response)
        return json.loads(text(response))

    def authorize(self, query: dict[str, str]) -> Response:
        return self.call(relay.oauth.serve_authorize, "/oauth/authorize", query_string=query)

    def post_page(self, form: dict[str, str], **kwargs: Any) -> Response:
        return self.call(relay.oauth.serve_authorize, "/oauth/authorize", "POST", data=form, **kwargs)

    def code(self, client_id: str, challenge: str, key: str = "key-two", **extra: str) -> dict[str, str]:
        page = self.authorize(authorization_query(client_id, challenge, self.base + "/mcp", **extra))
        assert page.status_code == 200, text(page)
        consent = self.post_page({"request": hidden(text(page), "request"), "api_key": key})
        assert consent.status_code == 200, text(consent)
        done = self.post_page({"approval": hidden(text(consent), "approval"), "decision": "allow"})
        assert done.status_code == 303
        return redirected(done.headers["Location"])

    def token(self, form: dict[str, str], **kwargs: Any) -> Response:
        return self.call(relay.oauth.serve_token, "/oauth/token", "POST", data=form, **kwargs)

    def tokens(self, key: str = "key-two") -> tuple[dict[str, Any], str, dict[str, Any]]:
        """A registered client's tokens: (tokens, client_id, the exchange's form)."""
        client_id = self.register()["client_id"]
        verifier, challenge = pkce()
        code = self.code(client_id, challenge, key)["code"]
        form = exchange_form(client_id, code, verifier, self.base)
        response = self.token(form)
        assert response.status_code == 200, text(response)
        return json.loads(text(response)), client_id, form

    def mcp(self, token: str | None) -> Response:
        headers = {"MCP-Protocol-Version": "2025-06-18"} | ({"Authorization": f"Bearer {token}"} if token else {})
        return self.call(relay.mcp_server.serve, "/mcp", "POST", json=LIST_TOOLS, headers=headers)


def text(response: Response) -> str:
    return b"".join(response.response).decode()


def document(response: Response) -> dict[str, Any]:
    return json.loads(text(response))


def exchange_form(client_id: str, code: str, verifier: str, base: str = BASE) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": verifier,
        "resource": base + "/mcp",
    }


def refresh_form(client_id: str, refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}


def oauth_error(response: Response) -> tuple[int, str]:
    body = document(response)
    assert set(body) == {"error", "error_description"} and body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, body["error"]


# -- discovery, and the 401 that starts it ----------------------------------------------------------------------


def test_a_401_of_mcp_says_where_the_resource_metadata_is_and_the_scope():
    endpoint = Endpoint()
    response = endpoint.mcp(None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp", scope="mcp"'
    )
    wrong = endpoint.mcp("not-a-key")
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", ')


def test_the_discovery_documents_name_the_resource_and_the_authorization_server_under_the_endpoint():
    endpoint = Endpoint()
    resource = document(endpoint.call(relay.oauth.serve_resource_metadata, "/.well-known/oauth-protected-resource/mcp"))
    assert resource["resource"] == f"{BASE}/mcp" and resource["authorization_servers"] == [BASE]
    assert resource["scopes_supported"] == ["mcp"]
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        response = endpoint.call(relay.oauth.serve_server_metadata, path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        server = document(response)
        assert server["issuer"] == BASE
        assert server["authorization_endpoint"] == f"{BASE}/oauth/authorize"
        assert server["token_endpoint"] == f"{BASE}/oauth/token"
        assert server["registration_endpoint"] == f"{BASE}/oauth/register"
        assert server["code_challenge_methods_supported"] == ["S256"]
        assert server["grant_types_supported"] == ["authorization_code", "refresh_token"]
        assert server["client_id_metadata_document_supported"] is True
        assert server["authorization_response_iss_parameter_supported"] is True


def test_the_public_url_setting_is_the_issuer_when_a_proxy_changes_the_url():
    endpoint = Endpoint(SETTINGS | {"public_url": "https://relay.example.org/e/hook-1/"})
    server = document(endpoint.call(relay.oauth.serve_server_metadata, "/.well-known/openid-configuration"))
    assert server["issuer"] == "https://relay.example.org/e/hook-1"
    assert "https://relay.example.org/e/hook-1/.well-known" in endpoint.mcp(None).headers["WWW-Authenticate"]


@pytest.mark.parametrize("value", ["ftp://x.example/e/h", "https://x.example/e/h?x=1", "not a url", "https://"])
def test_a_public_url_that_cannot_work_is_said_as_a_setting_to_fix(value):
    endpoint = Endpoint(SETTINGS | {"public_url": value})
    response = endpoint.call(relay.oauth.serve_server_metadata, "/.well-known/openid-configuration")
    assert response.status_code == 500 and "public_url" in document(response)["error_description"]
    # /mcp still says 401 and where the scope is; a key still works
    assert endpoint.mcp(None).headers["WWW-Authenticate"] == 'Bearer scope="mcp"'
    assert endpoint.mcp("key-one").status_code == 200


def test_an_endpoint_without_api_keys_has_no_oauth_and_mcp_asks_for_nothing():
    endpoint = Endpoint({"allowed_apps": SETTINGS["allowed_apps"]})
    assert endpoint.mcp(None).status_code == 200
    for serve, path, method in (
        (relay.oauth.serve_resource_metadata, "/.well-known/oauth-protected-resource/mcp", "GET"),
        (relay.oauth.serve_server_metadata, "/.well-known/oauth-authorization-server", "GET"),
        (relay.oauth.serve_token, "/oauth/token", "POST"),
        (relay.oauth.serve_register, "/oauth/register", "POST"),
    ):
        assert oauth_error(endpoint.call(serve, path, method)) == (404, "not_found")
    page = endpoint.authorize({"client_id": "x"})
    assert page.status_code == 404 and "</html>" in text(page)


# -- registration -----------------------------------------------------------------------------------------------


def test_registration_gives_a_signed_client_id_and_stores_nothing():
    endpoint = Endpoint()
    client = endpoint.register(client_name="Claude", token_endpoint_auth_method="none")
    assert client["client_id"].startswith("ci1.") and "client_secret" not in client
    assert client["redirect_uris"] == [REDIRECT_URI] and client["client_name"] == "Claude"
    assert endpoint.session.storage.values == {"ar2:oauth-secret": endpoint.session.storage.values["ar2:oauth-secret"]}


def test_a_client_that_asks_for_a_secret_gets_one_and_must_use_it():
    endpoint = Endpoint()
    client = endpoint.register(token_endpoint_auth_method="client_secret_basic")
    verifier, challenge = pkce()
    code = endpoint.code(client["client_id"], challenge)["code"]
    form = exchange_form(client["client_id"], code, verifier)
    assert oauth_error(endpoint.token(form)) == (401, "invalid_client")
    wrong = endpoint.token(form | {"client_secret": "guess"})
    assert oauth_error(wrong) == (401, "invalid_client")
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    assert endpoint.token(form, headers={"Authorization": f"Basic {basic}"}).status_code == 200


# -- the authorization page ---------------------------------------------------------------------------------------


def test_the_page_shows_the_client_and_its_redirect_host_asks_for_a_key_and_cannot_be_framed():
    endpoint = Endpoint()
    client_id = endpoint.register(client_name="Test <b>client</b>")["client_id"]
    page = endpoint.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp"))
    body = text(page)
    assert page.status_code == 200
    assert "Test &lt;b&gt;client&lt;/b&gt;" in body and "127.0.0.1:48123" in body
    assert 'type="password" name="api_key"' in body and "<script" not in body
    assert "support" not in body  # the apps are shown only once the key is typed
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("language", ["zh-CN", "ja", "pt-BR"])
def test_the_page_speaks_the_readers_language(language):
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    query = authorization_query(client_id, pkce()[1], BASE + "/mcp")
    page = endpoint.call(
        relay.oauth.serve_authorize, "/oauth/authorize", query_string=query, headers={"Accept-Language": language}
    )
    assert "Connect an application" not in text(page) and "API key" not in text(page)


def test_a_wrong_key_is_said_plainly_and_gives_no_code():
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    page = endpoint.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp"))
    wrong = endpoint.post_page({"request": hidden(text(page), "request"), "api_key": "key-three"})
    assert wrong.status_code == 403
    assert "That key is not valid here" in text(wrong) and "approval" not in text(wrong)
    assert "Location" not in wrong.headers


def test_the_right_key_shows_the_apps_then_allow_redirects_with_code_state_and_iss():
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    page = endpoint.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp"))
    consent = endpoint.post_page({"request": hidden(text(page), "request"), "api_key": "key-one"})
    body = text(consent)
    assert "<strong>support</strong>" in body and "<strong>outline</strong> · Workflow app" in body
    assert "key-one" not in body  # the key is never carried
    # the form's answer redirects to the client: its origin is a form action
    assert "form-action 'self' http://127.0.0.1:48123;" in consent.headers["Content-Security-Policy"]
    done = endpoint.post_page({"approval": hidden(body, "approval"), "decision": "allow"})
    assert done.status_code == 303
    assert done.headers["Location"].startswith(REDIRECT_URI + "?")
    answer = redirected(done.headers["Location"])
    assert answer["code"].startswith("ac1.") and answer["state"] == "state-123" and answer["iss"] == BASE


def test_deny_redirects_with_access_denied():
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    page = endpoint.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp"))
    consent = endpoint.post_page({"request": hidden(text(page), "request"), "api_key": "key-one"})
    done = endpoint.post_page({"approval": hidden(text(consent), "approval"), "decision": "deny"})
    answer = redirected(done.headers["Location"])
    assert answer["error"] == "access_denied" and answer["state"] == "state-123" and "code" not in answer


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"client_id": "ci1.forged.client"}, "unknown here"),
        ({"client_id": ""}, "names no client_id"),
        ({"redirect_uri": "http://127.0.0.1:48124/callback"}, "is not one this client registered"),
        ({"redirect_uri": "https://evil.example/callback"}, "is not one this client registered"),
    ],
)
def test_before_the_client_and_its_redirect_uri_are_known_right_an_error_is_a_page_never_a_redirect(change, said):
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    response = endpoint.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp") | change)
    assert response.status_code == 400 and "Location" not in response.headers
    body = text(response)
    assert said in body and "cannot be used" in body


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"resource": "https://elsewhere.example/mcp"}, "invalid_target"),
    ],
)
def test_after_they_are_known_right_an_error_goes_back_to_the_client(change, error):
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    response = endpoint.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp") | change)
    assert response.status_code == 302
    answer = redirected(response.headers["Location"])
    assert answer["error"] == error and answer["error_description"]
    assert answer["state"] == "state-123" and answer["iss"] == BASE


def test_a_missing_challenge_is_refused_pkce_is_required():
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    query = authorization_query(client_id, "x", BASE + "/mcp")
    del query["code_challenge"]
    answer = redirected(endpoint.authorize(query).headers["Location"])
    assert answer["error"] == "invalid_request" and "PKCE" in answer["error_description"]


def test_a_forged_or_foreign_page_form_gives_no_code():
    endpoint = Endpoint()
    forged = endpoint.post_page({"request": "rq1.e30.AAAA", "api_key": "key-one"})
    assert forged.status_code == 400 and "expired" in text(forged)
    other = Endpoint(endpoint_id="endpoint-2")
    client_id = other.register()["client_id"]
    page = other.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp"))
    foreign = endpoint.post_page({"request": hidden(text(page), "request"), "api_key": "key-one"})
    assert foreign.status_code == 400
    approval = endpoint.post_page({"approval": "ap1.e30.AAAA", "decision": "allow"})
    assert approval.status_code == 400 and "Location" not in approval.headers


def test_a_key_removed_between_approval_and_allow_gives_no_code():
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    page = endpoint.authorize(authorization_query(client_id, pkce()[1], BASE + "/mcp"))
    consent = endpoint.post_page({"request": hidden(text(page), "request"), "api_key": "key-one"})
    endpoint.settings["api_key"] = "key-two"
    done = endpoint.post_page({"approval": hidden(text(consent), "approval"), "decision": "allow"})
    assert done.status_code == 403 and "Location" not in done.headers


# -- the token endpoint -----------------------------------------------------------------------------------------


def test_a_code_gives_an_hour_long_access_token_and_a_refresh_token_never_cached():
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    verifier, challenge = pkce()
    code = endpoint.code(client_id, challenge)["code"]
    response = endpoint.token(exchange_form(client_id, code, verifier))
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    tokens = document(response)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600 and tokens["scope"] == "mcp"
    assert tokens["access_token"].startswith("at1.") and tokens["refresh_token"].startswith("rt1.")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code_verifier": "x" * 43}, (400, "invalid_grant")),
        ({"code_verifier": None}, (400, "invalid_request")),
        ({"redirect_uri": "http://127.0.0.1:48123/other"}, (400, "invalid_grant")),
        ({"resource": "https://elsewhere.example/mcp"}, (400, "invalid_target")),
        ({"code": "ac1.forged.code"}, (400, "invalid_grant")),
        ({"grant_type": "password"}, (400, "unsupported_grant_type")),
        ({"grant_type": None}, (400, "invalid_request")),
        ({"client_id": "ci1.forged.client"}, (401, "invalid_client")),
    ],
)
def test_a_bad_exchange_is_an_rfc_error_and_no_token(change, expected):
    endpoint = Endpoint()
    client_id = endpoint.register()["client_id"]
    verifier, challenge = pkce()
    code = endpoint.code(client_id, challenge)["code"]
    form = {name: value for name, value in (exchange_form(client_id, code, verifier) | change).items() if value}
    assert oauth_error(endpoint.token(form)) == expected


def test_a_code_issued_to_another_client_is_refused():
    endpoint = Endpoint()
    first, second = endpoint.register()["client_id"], endpoint.register(client_name="other")["client_id"]
    verifier, challenge = pkce()
    code = endpoint.code(first, challenge)["code"]
    assert oauth_error(endpoint.token(exchange_form(second, code, verifier))) == (400, "invalid_grant")


def test_a_reused_code_is_refused_and_revokes_what_it_gave():
    endpoint = Endpoint()
    tokens, _, form = endpoint.tokens()
    assert endpoint.mcp(tokens["access_token"]).status_code == 200
    assert oauth_error(endpoint.token(form)) == (400, "invalid_grant")
    assert endpoint.mcp(tokens["access_token"]).status_code == 401


def test_a_parameter_sent_twice_or_a_json_body_is_an_invalid_request():
    endpoint = Endpoint()
    twice = endpoint.call(
        relay.oauth.serve_token,
        "/oauth/token",
        "POST",
        data="grant_type=refresh_token&grant_type=authorization_code",
        content_type="application/x-www-form-urlencoded",
    )
    assert oauth_error(twice) == (400, "invalid_request")
    as_json = endpoint.call(relay.oauth.serve_token, "/oauth/token", "POST", json={"grant_type": "refresh_token"})
    assert oauth_error(as_json) == (400, "invalid_request")


def test_refresh_tokens_rotate_and_an_old_one_used_again_revokes_the_family():
    endpoint = Endpoint()
    tokens, client_id, _ = endpoint.tokens()
    second = endpoint.token(refresh_form(client_id, tokens["refresh_token"]))
    assert second.status_code == 200
    rotated = document(second)
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert endpoint.mcp(rotated["access_token"]).status_code == 200
    # the first refresh token again: a leak; the whole family goes
    assert oauth_error(endpoint.token(refresh_form(client_id, tokens["refresh_token"]))) == (400, "invalid_grant")
    assert oauth_error(endpoint.token(refresh_form(client_id, rotated["refresh_token"]))) == (400, "invalid_grant")
    assert endpoint.mcp(rotated["access_token"]).status_code == 401
    assert endpoint.mcp(tokens["access_token"]).status_code == 401


def test_removing_the_key_that_approved_revokes_its_tokens_and_the_other_keys_grants_stay():
    endpoint = Endpoint()
    one, client_one, _ = endpoint.tokens("key-one")
    two, _, _ = endpoint.tokens("key-two")
    endpoint.settings["api_key"] = "key-two, key-three"
    refused = endpoint.mcp(one["access_token"])
    assert refused.status_code == 401 and "no longer in the endpoint's settings" in text(refused)
    assert oauth_error(endpoint.token(refresh_form(client_one, one["refresh_token"]))) == (400, "invalid_grant")
    assert endpoint.mcp(two["access_token"]).status_code == 200
    assert endpoint.mcp("key-three").status_code == 200  # the keys work as before


def test_a_token_of_another_endpoint_or_address_is_refused():
    endpoint = Endpoint()
    tokens, _, _ = endpoint.tokens()
    other_endpoint = Endpoint(endpoint_id="endpoint-2")
    other_endpoint.session.storage = endpoint.session.storage  # same workspace, same secret
    assert other_endpoint.mcp(tokens["access_token"]).status_code == 401
    other_address = Endpoint(base="https://dify.example.com/e/hook-2")
    other_address.session.storage = endpoint.session.storage
    assert other_address.mcp(tokens["access_token"]).status_code == 401


def test_an_expired_access_token_is_refused(monkeypatch):
    endpoint = Endpoint()
    tokens, _, _ = endpoint.tokens()
    later = signing.time.time() + 3601
    monkeypatch.setattr(signing.time, "time", lambda: later)
    refused = endpoint.mcp(tokens["access_token"])
    assert refused.status_code == 401 and "expired" in text(refused)


def test_an_access_token_is_the_caller_of_the_key_that_approved_it():
    endpoint = Endpoint()
    tokens, _, _ = endpoint.tokens("key-two")
    exchange = Exchange(
        Dify(endpoint.session, BASE),
        endpoint.request("/mcp", "POST"),
        {},
        endpoint.settings,
        AccessSettings.from_settings(endpoint.settings),
        {},
        ANONYMOUS,
    )
    assert BEARER.caller(exchange, tokens["access_token"]) == Caller.of_key("key-two")
    assert BEARER.caller(exchange, "key-two") is None  # not a token: the key check decides


def test_a_document_client_is_fetched_at_authorization_and_named_by_its_id_at_the_token_endpoint(monkeypatch):
    url = "https://app.example.com/oauth/client.json"
    fetched = []

    def documents(client_id):
        fetched.append(client_id)
        return Client(client_id, (REDIRECT_URI,), "Example app", "none", document=True)

    monkeypatch.setattr(authorization, "documents", documents)
    endpoint = Endpoint()
    verifier, challenge = pkce()
    code = endpoint.code(url, challenge)["code"]
    tokens = document(endpoint.token(exchange_form(url, code, verifier)))
    assert endpoint.mcp(tokens["access_token"]).status_code == 200
    assert fetched == [url, url]  # the page and the key's answer; never the token endpoint
