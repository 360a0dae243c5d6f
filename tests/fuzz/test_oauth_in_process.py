"""The OAuth routes in-process, under any parameters a client (or an attacker) may send.

The routes are in the plugin's declarations, so the fuzzing through the plugin process (``test_plugin_process.py``)
sends them anything already; this draws what only an OAuth client would send — client ids, redirect URIs, PKCE
challenges and verifiers, resources, codes and tokens, each valid, altered or garbage — so that the examples reach
past the first 400. Each example runs on a fresh endpoint where a client is registered and a code approved.

Properties: a status of the contract; OAuth's error JSON (``error``, ``error_description``) and ``no-store`` on
every JSON route; a whole page or a redirect on the authorization route, and a redirect only ever to a redirect
URI the client registered; tokens only for a request that carries the valid code with its verifier, or the valid
refresh token; no app run; a few storage writes per request, within OAuth's bound; no traceback or file path.
"""

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from werkzeug import Request
from werkzeug.test import EnvironBuilder

import relay.mcp_server
import relay.oauth
from relay.core.errors import RelayError
from relay.oauth import authorize as authorization
from relay.oauth.grants import MAX_STORED_BYTES
from relay.oauth.signing import forget_secrets
from tests.fuzz import strategies as fuzz
from tests.fuzz.conftest import EXAMPLES
from tests.fuzz.contract import checked_body
from tests.oauth import REDIRECT_URI, authorization_query, hidden, pkce, redirected
from tests.unit.conftest import FakeSession, FakeStorage, stream_of

BASE = "https://dify.example.com/e/hook-1"
STATUSES = {200, 201, 202, 204, 302, 303, 400, 401, 403, 404, 405, 413, 500, 503}
ROUTES = {
    "/.well-known/oauth-protected-resource/mcp": relay.oauth.serve_resource_metadata,
    "/.well-known/oauth-authorization-server": relay.oauth.serve_server_metadata,
    "/.well-known/openid-configuration": relay.oauth.serve_server_metadata,
    "/oauth/register": relay.oauth.serve_register,
    "/oauth/token": relay.oauth.serve_token,
    "/oauth/authorize": relay.oauth.serve_authorize,
    "/mcp": relay.mcp_server.serve,
}
STORAGE_WRITES = 16


def refuse_every_document(url: str) -> Any:
    raise RelayError(401, "invalid_client", "no network in the fuzzer")


@pytest.fixture(autouse=True, scope="module")
def no_network():
    kept = authorization.documents
    authorization.documents = refuse_every_document
    yield
    authorization.documents = kept


class World:
    """A fresh endpoint with a registered client, an approved code and its verifier."""

    def __init__(self, settings: dict[str, Any]) -> None:
        forget_secrets()
        self.session = FakeSession(stream_of(), storage=FakeStorage())
        self.settings = {"allowed_apps": "*", "api_key": "k"}
        self.client_id = json.loads(
            self.body(self.call("/oauth/register", "POST", json={"redirect_uris": [REDIRECT_URI]}))
        )["client_id"]
        self.verifier, challenge = pkce()
        page = self.body(
            self.call("/oauth/authorize", query_string=authorization_query(self.client_id, challenge, BASE + "/mcp"))
        )
        self.request_token = hidden(page, "request")
        consent = self.body(self.call("/oauth/authorize", "POST", data={"request": self.request_token, "api_key": "k"}))
        self.approval = hidden(consent, "approval")
        done = self.call("/oauth/authorize", "POST", data={"approval": self.approval, "decision": "allow"})
        self.code = redirected(done.headers["Location"])["code"]
        again = self.call("/oauth/authorize", "POST", data={"approval": self.approval, "decision": "allow"})
        exchanged = self.call(
            "/oauth/token",
            "POST",
            data=self.exchange_form(redirected(again.headers["Location"])["code"]),
            content_type="application/x-www-form-urlencoded",
        )
        granted = json.loads(self.body(exchanged))
        self.refresh_token, self.access_token = granted["refresh_token"], granted["access_token"]
        self.settings = settings

    def exchange_form(self, code: str) -> str:
        form = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        return urlencode(form | {"code_verifier": self.verifier, "redirect_uri": REDIRECT_URI})

    def call(self, path: str, method: str = "GET", headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        hook = {"Dify-Hook-Url": BASE + path, "Dify-Hook-Id": "hook-1"}
        request = Request(
            EnvironBuilder(path=path, method=method, headers=hook | (headers or {}), **kwargs).get_environ()
        )
        return ROUTES[path](self.session, request, {}, self.settings)

    @staticmethod
    def body(response: Any) -> str:
        return b"".join(response.response).decode()


VALUES = ["valid", "altered", "garbage", "empty"]


def value_of(world: World, name: str, kind: str, garbage: str) -> str:
    if kind == "empty":
        return ""
    if kind == "garbage":
        return garbage
    valid = {
        "response_type": "code",
        "client_id": world.client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "s",
        "code_challenge": pkce()[1],
        "code_challenge_method": "S256",
        "resource": BASE + "/mcp",
        "scope": "mcp",
        "grant_type": "authorization_code",
        "code": world.code,
        "code_verifier": world.verifier,
        "refresh_token": world.refresh_token,
        "client_secret": "s",
        "request": world.request_token,
        "api_key": "k",
        "approval": world.approval,
        "decision": "allow",
    }[name]
    if kind == "altered":
        return valid[:-2] + ("AB" if not valid.endswith("AB") else "CD")
    return valid


OWN_METHODS = {
    "/oauth/authorize": ["GET", "POST"],
    "/oauth/register": ["POST"],
    "/oauth/token": ["POST"],
    "/mcp": ["POST"],
}


def routes_and_methods() -> st.SearchStrategy[tuple[str, str]]:
    """Mostly a route with one of its own methods; sometimes another method (405, or a preflight)."""
    path = st.sampled_from(list(ROUTES))
    own = path.flatmap(lambda route: st.tuples(st.just(route), st.sampled_from(OWN_METHODS.get(route, ["GET"]))))
    other = st.tuples(path, st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "HEAD"]))
    return fuzz.weighted((8, own), (1, other))


SCENARIOS = {
    "authorization": [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "resource",
        "scope",
    ],
    "key": ["request", "api_key"],
    "decision": ["approval", "decision"],
    "code": ["grant_type", "code", "code_verifier", "client_id", "redirect_uri", "resource"],
    "refresh": ["grant_type", "refresh_token", "client_id", "resource"],
}
"""Whole valid requests, which the drawn parameters then alter, drop or add to: the examples reach the grants."""
PARAMETERS = [*dict.fromkeys(name for names in SCENARIOS.values() for name in names), "client_secret"]
"""Every parameter a scenario sends, and one none sends (a confidential client's secret)."""

requests = st.fixed_dictionaries(
    {
        "route": routes_and_methods(),
        "dropped": st.lists(st.sampled_from(PARAMETERS), max_size=2),
        "params": st.dictionaries(
            st.sampled_from(PARAMETERS),
            st.tuples(fuzz.weighted((6, st.just("valid")), (1, st.sampled_from(VALUES))), fuzz.text),
            max_size=4,
        ),
        "encoding": fuzz.weighted((6, st.sampled_from(["query", "form"])), (1, st.sampled_from(["json", "raw"]))),
        "raw": st.binary(max_size=300),
        "headers": fuzz.weighted((6, st.just({})), (1, fuzz.header_sets())),
        "settings": st.fixed_dictionaries(
            {
                "allowed_apps": st.sampled_from(["*", "support=6f1c2a9e-3b7d-4c1e-9a2f-0d4b5c6e7f80", ""]),
                "api_key": fuzz.weighted((8, st.just("k")), (1, st.sampled_from(["k, other", "", "other"]))),
            },
            optional={
                "public_url": fuzz.weighted(
                    (3, st.just(BASE)),
                    (1, st.sampled_from(["https://proxy.example/e/hook-1", "ftp://x"])),
                    (1, fuzz.text),
                ),
                "cors_allowed_origins": st.sampled_from(["*", "https://a.example"]),
            },
        ),
    }
)


ROUTE_SCENARIOS = {
    "/oauth/authorize": ["authorization", "key", "decision"],
    "/oauth/token": ["code", "refresh"],
    "/oauth/register": ["authorization"],
}


@given(drawn=requests, data=st.data())
def test_the_oauth_routes_answer_anything_by_their_contracts(drawn, data):
    EXAMPLES["in-process OAuth"] += 1
    world = World(drawn["settings"])
    own = ROUTE_SCENARIOS.get(drawn["route"][0], [])
    scenario = data.draw(fuzz.weighted((4, st.sampled_from(own or [None])), (1, st.none())), label="scenario")
    params = {name: value_of(world, name, "valid", "") for name in SCENARIOS.get(scenario, [])}
    if scenario == "refresh":
        params["grant_type"] = "refresh_token"
    params |= {name: value_of(world, name, kind, garbage) for name, (kind, garbage) in drawn["params"].items()}
    params = {name: value for name, value in params.items() if name not in drawn["dropped"]}
    kwargs: dict[str, Any] = {}
    if drawn["encoding"] == "query" or drawn["route"][1] in ("GET", "HEAD"):
        kwargs["query_string"] = urlencode(params)
    elif drawn["encoding"] == "form":
        kwargs |= {"data": urlencode(params), "content_type": "application/x-www-form-urlencoded"}
    elif drawn["encoding"] == "json":
        kwargs["json"] = params | ({"redirect_uris": [params["redirect_uri"]]} if "redirect_uri" in params else {})
    else:
        kwargs["data"] = drawn["raw"]
    path, method = drawn["route"]
    headers = dict(drawn["headers"])
    if path == "/mcp":
        bearer = data.draw(st.sampled_from(["valid", "altered", "key", "none"]), label="bearer")
        token = {"valid": world.access_token, "altered": world.access_token[:-2] + "AA", "key": "k"}.get(bearer)
        headers |= {"Authorization": f"Bearer {token}"} if token else {}
        headers |= {"MCP-Protocol-Version": "2025-06-18", "Accept": "application/json"}
        kwargs = {"json": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}
    writes = world.session.storage.writes
    response = world.call(path, method, headers=headers, **kwargs)

    text = checked_body(response)
    status = response.status_code
    event(f"{path} {status}")
    assert status in STATUSES, (status, text[:300])
    assert status != 500 or "public_url" in text or "endpoint_misconfigured" in text, text[:300]
    assert world.session.storage.writes - writes <= STORAGE_WRITES
    assert world.session.storage.size <= MAX_STORED_BYTES + 64
    assert not world.session.ran()
    if status == 401:  # a Bearer challenge at /mcp, Basic at the token endpoint (invalid_client)
        assert response.headers["WWW-Authenticate"].startswith("Bearer" if path == "/mcp" else "Basic")
    if path == "/mcp" or status == 204 or method == "HEAD":
        return
    if path == "/oauth/authorize":
        if status in (302, 303):
            assert response.headers["Location"].startswith(REDIRECT_URI + "?")  # never anywhere else
        else:
            assert text.rstrip().endswith("</html>") and response.headers["Cache-Control"] == "no-store"
        return
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(text)
    if status >= 400:
        # RFC 6749's two members; a refusal of the relay's own (a method, a size, a setting) adds its code
        assert set(document) - {"code"} == {"error", "error_description"}
        assert "code" not in document or document["error"] in ("invalid_request", "server_error")
    if path == "/oauth/token" and status == 200:
        # tokens only for the approved code with its verifier, unaltered
        by_code = params.get("code") == world.code and params.get("code_verifier") == world.verifier
        by_refresh = params.get("refresh_token") == world.refresh_token
        assert (by_code and params["grant_type"] == "authorization_code") or (
            by_refresh and params["grant_type"] == "refresh_token"
        )
        assert document["access_token"].startswith("at1.")
