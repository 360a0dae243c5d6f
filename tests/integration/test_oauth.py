"""OAuth for the MCP server through the real plugin process, then end to end with the official ``mcp`` client.

First the routes one by one, as the daemon hands them to the plugin: discovery, the 401 of ``/mcp``, registration,
the authorization page, the token endpoint, rotation, revocation, another endpoint's token, hostile inputs. Then
the ``mcp`` package's own OAuth client (``OAuthClientProvider``: discovery, registration, PKCE, the token exchange,
refresh) against the local daemon (``devkit.serve.create_server``) under every MCP revision the server speaks,
the test playing the person who fills the authorization page. The requests the client made are recorded: they
are the discovery order each revision's client follows, and which of them the plugin answers.
"""

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from mcp import Client
from mcp.client import session as mcp_session
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from devkit.demo.apps import DEMO_APPS, DEMO_SETTINGS, DemoApps
from devkit.plugin import DEFAULT_ENDPOINT_ID, DEFAULT_HOOK_ID
from devkit.serve import create_server
from tests.integration.apps import CHAT_APP, WORKFLOW_APP
from tests.oauth import REDIRECT_URI, authorization_query, hidden, pkce, redirected

ROOT = Path(__file__).resolve().parents[2]
BASE = f"http://localhost/e/{DEFAULT_HOOK_ID}"
"""The endpoint's URL as the devkit's daemon writes it into Dify-Hook-Url."""
SETTINGS = {"api_key": "key-one, key-two", "allowed_apps": f"support={CHAT_APP}, workflow:outline={WORKFLOW_APP}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LIST_TOOLS = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()


def call(plugin, method: str, path: str, *, form: dict[str, str] | None = None, settings=SETTINGS, **kwargs: Any):
    if form is not None:
        kwargs |= {"body": urlencode(form).encode(), "headers": FORM | kwargs.get("headers", {})}
    return plugin.request(method, path, settings=settings, **kwargs)


def register(plugin, **metadata: Any) -> dict[str, Any]:
    body = json.dumps({"redirect_uris": [REDIRECT_URI], "client_name": "Integration"} | metadata).encode()
    response = call(plugin, "POST", "/oauth/register", body=body, headers={"Content-Type": "application/json"})
    assert response.status == 201, response.text()
    return response.json()


def authorize(plugin, client_id: str, challenge: str, key: str = "key-one", **extra: str) -> dict[str, str]:
    """The person's part: open the page, type the key, allow; the redirect's parameters."""
    page = call(
        plugin,
        "GET",
        "/oauth/authorize?" + urlencode(authorization_query(client_id, challenge, BASE + "/mcp", **extra)),
    )
    assert page.status == 200, page.text()
    consent = call(plugin, "POST", "/oauth/authorize", form={"request": hidden(page.text(), "request"), "api_key": key})
    assert consent.status == 200, consent.text()
    done = call(
        plugin, "POST", "/oauth/authorize", form={"approval": hidden(consent.text(), "approval"), "decision": "allow"}
    )
    assert done.status == 303
    done.read()
    return redirected(done.header("Location"))


def exchange(plugin, client_id: str, code: str, verifier: str, **settings: Any):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": verifier,
        "resource": BASE + "/mcp",
    }
    return call(plugin, "POST", "/oauth/token", form=form, settings=settings or SETTINGS)


def tokens(plugin, key: str = "key-one") -> tuple[dict[str, Any], str]:
    client_id = register(plugin)["client_id"]
    verifier, challenge = pkce()
    response = exchange(plugin, client_id, authorize(plugin, client_id, challenge, key)["code"], verifier)
    assert response.status == 200, response.text()
    return response.json(), client_id


def refresh(plugin, client_id: str, refresh_token: str, settings=SETTINGS):
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return call(plugin, "POST", "/oauth/token", form=form, settings=settings)


def mcp(plugin, token: str | None, settings=SETTINGS, **kwargs: Any):
    headers = {"Content-Type": "application/json", "Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return plugin.request("POST", "/mcp", headers=headers, body=LIST_TOOLS, settings=settings, **kwargs)


def error_of(response) -> tuple[int, str]:
    body = response.json()
    assert body["error_description"] and response.header("Cache-Control") == "no-store"
    return response.status, body["error"]


# -- through the plugin process ----------------------------------------------------------------------------------


def test_discovery_starts_at_the_401_of_mcp_and_stays_under_the_endpoint(plugin):
    refused = mcp(plugin, None)
    assert refused.status == 401
    assert refused.header("WWW-Authenticate") == (
        f'Bearer resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp", scope="mcp"'
    )
    resource = call(plugin, "GET", "/.well-known/oauth-protected-resource/mcp").json()
    assert resource["resource"] == f"{BASE}/mcp" and resource["authorization_servers"] == [BASE]
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        server = call(plugin, "GET", path).json()
        assert server["issuer"] == BASE and server["registration_endpoint"] == f"{BASE}/oauth/register"
        assert server["code_challenge_methods_supported"] == ["S256"]


def test_an_endpoint_without_keys_changes_nothing(plugin):
    open_settings = {"allowed_apps": SETTINGS["allowed_apps"]}
    answered = mcp(plugin, None, open_settings)
    assert answered.status == 200 and "WWW-Authenticate" not in answered.headers
    for method, path in (("GET", "/.well-known/oauth-protected-resource/mcp"), ("POST", "/oauth/token")):
        assert error_of(call(plugin, method, path, settings=open_settings)) == (404, "not_found")


def test_the_page_a_wrong_key_an_allowed_code_and_the_token_exchange(plugin):
    client_id = register(plugin)["client_id"]
    verifier, challenge = pkce()
    page = call(
        plugin, "GET", "/oauth/authorize?" + urlencode(authorization_query(client_id, challenge, BASE + "/mcp"))
    )
    text = page.text()
    assert page.status == 200 and "Integration" in text and "127.0.0.1:48123" in text
    assert page.header("X-Frame-Options") == "DENY" and "frame-ancestors 'none'" in page.header(
        "Content-Security-Policy"
    )
    wrong = call(plugin, "POST", "/oauth/authorize", form={"request": hidden(text, "request"), "api_key": "nope"})
    assert wrong.status == 403 and "That key is not valid here" in wrong.text()
    assert wrong.header("Location") is None
    answer = authorize(plugin, client_id, challenge)
    assert answer["state"] == "state-123" and answer["iss"] == BASE
    granted = exchange(plugin, client_id, answer["code"], verifier)
    assert granted.status == 200 and granted.header("Cache-Control") == "no-store"
    access = granted.json()["access_token"]
    listed = mcp(plugin, access)
    assert listed.status == 200
    assert [tool["name"] for tool in listed.json()["result"]["tools"]] == ["support", "outline"]
    # the same code again: refused, and what it gave is revoked
    assert error_of(exchange(plugin, client_id, answer["code"], verifier)) == (400, "invalid_grant")
    assert mcp(plugin, access).status == 401


def test_a_wrong_verifier_or_redirect_uri_gives_no_token(plugin):
    client_id = register(plugin)["client_id"]
    verifier, challenge = pkce()
    code = authorize(plugin, client_id, challenge)["code"]
    assert error_of(exchange(plugin, client_id, code, pkce()[0])) == (400, "invalid_grant")
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "code_verifier": verifier}
    mismatched = call(plugin, "POST", "/oauth/token", form=form | {"redirect_uri": "http://127.0.0.1:1/other"})
    assert error_of(mismatched) == (400, "invalid_grant")


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:48124/callback", "http://evil.example/callback"])
def test_a_redirect_uri_not_registered_is_an_error_page_never_a_redirect(plugin, redirect_uri):
    client_id = register(plugin)["client_id"]
    query = authorization_query(client_id, pkce()[1], BASE + "/mcp", redirect_uri=redirect_uri)
    page = call(plugin, "GET", "/oauth/authorize?" + urlencode(query))
    assert page.status == 400 and page.header("Location") is None
    assert "is not one this client registered" in page.text()


def test_refresh_tokens_rotate_and_reuse_revokes_the_family(plugin):
    first, client_id = tokens(plugin)
    rotated = refresh(plugin, client_id, first["refresh_token"])
    assert rotated.status == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"] and mcp(plugin, second["access_token"]).status == 200
    assert error_of(refresh(plugin, client_id, first["refresh_token"])) == (400, "invalid_grant")
    assert error_of(refresh(plugin, client_id, second["refresh_token"])) == (400, "invalid_grant")
    assert mcp(plugin, second["access_token"]).status == 401


def test_removing_the_key_from_the_settings_revokes_everything_it_approved(plugin):
    granted, client_id = tokens(plugin, "key-one")
    without = SETTINGS | {"api_key": "key-two"}
    refused = mcp(plugin, granted["access_token"], without)
    assert refused.status == 401 and 'error="invalid_token"' in refused.header("WWW-Authenticate")
    assert "no longer in the endpoint's settings" in refused.text()
    assert error_of(refresh(plugin, client_id, granted["refresh_token"], without)) == (400, "invalid_grant")
    assert mcp(plugin, "key-two", without).status == 200  # the keys work as before
    assert mcp(plugin, granted["access_token"]).status == 200  # the key back: its grants with it


def test_a_token_of_another_endpoint_is_refused(plugin):
    granted, _ = tokens(plugin)
    assert mcp(plugin, granted["access_token"], hook_id="0" * 32).status == 401  # another address, another issuer
    plugin.endpoint_id = "0e9d2c4b-1a3f-4b6e-8d7c-2f1e3a5b7c9d"
    try:
        assert mcp(plugin, granted["access_token"]).status == 401  # another endpoint at the same address
    finally:
        plugin.endpoint_id = DEFAULT_ENDPOINT_ID
    assert mcp(plugin, granted["access_token"]).status == 200


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://a.example/cb#x"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [f"https://a.example/{n}" for n in range(9)]}, "invalid_redirect_uri"),
        ({"client_name": "x" * 101}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ],
)
def test_hostile_registrations_are_refused(plugin, metadata, error):
    body = json.dumps({"redirect_uris": [REDIRECT_URI]} | metadata).encode()
    response = call(plugin, "POST", "/oauth/register", body=body, headers={"Content-Type": "application/json"})
    assert error_of(response) == (400, error)


def test_a_huge_registration_is_refused(plugin):
    body = json.dumps({"redirect_uris": [REDIRECT_URI], "client_name": "x" * 20_000}).encode()
    response = call(plugin, "POST", "/oauth/register", body=body, headers={"Content-Type": "application/json"})
    assert error_of(response) == (413, "invalid_client_metadata")


@pytest.mark.parametrize(
    "client_id",
    [
        "https://127.0.0.1/client.json",
        "https://localhost/client.json",
        "https://[::1]/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1:8443/client.json",
    ],
)
def test_a_metadata_document_at_a_private_address_is_never_fetched(plugin, client_id):
    query = authorization_query(client_id, pkce()[1], BASE + "/mcp")
    page = call(plugin, "GET", "/oauth/authorize?" + urlencode(query))
    text = page.text()
    assert page.status == 400 and page.header("Location") is None
    assert "never fetches" in text and "cannot be used" in text


# -- end to end: the mcp package's OAuth client ------------------------------------------------------------------


class Memory:
    """The client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """Opens the authorization URL the client hands over, types the key, allows; hands the redirect back."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.location: str | None = None
        self.pages: list[str] = []

    async def open(self, url: str) -> None:
        async with httpx2.AsyncClient(timeout=30) as browser:
            page = await browser.get(url)
            action = url.split("?", 1)[0]
            consent = await browser.post(action, data={"request": hidden(page.text, "request"), "api_key": self.key})
            self.pages += [page.text, consent.text]
            done = await browser.post(action, data={"approval": hidden(consent.text, "approval"), "decision": "allow"})
            assert done.status_code == 303
            self.location = done.headers["Location"]

    async def callback(self) -> AuthorizationCodeResult:
        assert self.location is not None
        answer = redirected(self.location)
        return AuthorizationCodeResult(code=answer["code"], state=answer["state"], iss=answer.get("iss"))


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[Any]:
    server = create_server(
        ROOT,
        DemoApps(token_delay=0.0, completion_fixed=True),
        settings={**DEMO_SETTINGS, "api_key": "e2e-key"},
        console=lambda _: None,
        plugin_log=lambda _: None,
    )
    # Dify's nginx writes the host without its port into Dify-Hook-Url: the case public_url is for
    server.settings["public_url"] = server.endpoint_url
    server.serve_in_background()
    try:
        yield server
    finally:
        server.close()


def connect(server: Any, mode: str, provider: OAuthClientProvider, seen: list[tuple[str, str, int]]) -> Any:
    async def record(response: httpx2.Response) -> None:
        seen.append((response.request.method, str(response.request.url).split("?")[0], response.status_code))

    async def main() -> Any:
        http = httpx2.AsyncClient(auth=provider, timeout=30, event_hooks={"response": [record]})
        async with (
            http,
            Client(streamable_http_client(f"{server.endpoint_url}/mcp", http_client=http), mode=mode) as client,
        ):
            listed = await client.list_tools()
            called = await client.call_tool("chatbot", {"query": "hello"})
            return client.protocol_version, [tool.name for tool in listed.tools], called

    return asyncio.run(main())


REVISIONS = [("2026-07-28", "2026-07-28"), ("legacy", "2025-11-25"), ("legacy", "2025-06-18"), ("legacy", "2025-03-26")]


@pytest.mark.parametrize(("mode", "revision"), REVISIONS, ids=[revision for _, revision in REVISIONS])
def test_the_mcp_clients_oauth_connects_under_every_revision(oauth_server, monkeypatch, mode, revision):
    monkeypatch.setattr(mcp_session, "LATEST_HANDSHAKE_VERSION", revision if mode == "legacy" else "2025-11-25")
    person, storage, seen = Person("e2e-key"), Memory(), []
    endpoint = oauth_server.endpoint_url
    provider = OAuthClientProvider(
        f"{endpoint}/mcp",
        OAuthClientMetadata(redirect_uris=["http://127.0.0.1:48123/callback"], client_name="mcp e2e"),
        storage,
        person.open,
        person.callback,
    )
    negotiated, tools, called = connect(oauth_server, mode, provider, seen)
    assert negotiated == revision
    assert tools == [app.slug for app in DEMO_APPS]
    assert not called.is_error and "hello" in called.content[0].text
    assert "mcp e2e" in person.pages[0] and "chatbot" in person.pages[1]
    origin = endpoint.split("/e/", 1)[0]
    hook = endpoint.split("/e/", 1)[1]
    # The discovery order of the client: the 401's resource_metadata; RFC 8414's path-inserted URL and OpenID's
    # path-inserted one, both at the site's root (where a plugin cannot answer: 404); then OpenID's appended one.
    assert seen[:7] == [
        ("POST", f"{endpoint}/mcp", 401),
        ("GET", f"{endpoint}/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", f"{origin}/.well-known/oauth-authorization-server/e/{hook}", 404),
        ("GET", f"{origin}/.well-known/openid-configuration/e/{hook}", 404),
        ("GET", f"{endpoint}/.well-known/openid-configuration", 200),
        ("POST", f"{endpoint}/oauth/register", 201),
        ("POST", f"{endpoint}/oauth/token", 200),
    ]
    assert all(status == 200 or status == 202 for _, _, status in seen[7:])
    # An hour later: the client refreshes (a rotated refresh token) and goes on, without the person.
    provider.context.token_expiry_time = time.time() - 1
    pages = len(person.pages)
    seen.clear()
    assert connect(oauth_server, mode, provider, seen)[1] == tools
    assert seen[0] == ("POST", f"{endpoint}/oauth/token", 200) and len(person.pages) == pages
