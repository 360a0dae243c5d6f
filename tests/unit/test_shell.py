"""The shell every surface runs in: preflight and Allow per surface, the key before anything, the form key only
where a surface opts in, RelayError in the surface's shape, anything else its 500 without a traceback."""

import json
from dataclasses import dataclass

import pytest
from werkzeug import Response

import relay.mcp_server
import relay.native
import relay.openai_compat
from relay.core import shell
from relay.core.errors import RelayError
from relay.core.shell import Exchange
from tests.unit.conftest import APP_ID, CHAT_EVENTS, FakeSession, make_request, serving, stream_of

PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
SETTINGS = serving(cors_allowed_origins="https://app.example", api_key="k")


def native(request, settings=SETTINGS):
    return relay.native.serve(FakeSession(stream_of(*CHAT_EVENTS)), request, {"app_id": APP_ID}, settings, relay.CHAT)


def openai(route, request, settings=SETTINGS):
    return relay.openai_compat.serve(FakeSession(stream_of()), request, {}, settings, route)


def mcp(request, settings=SETTINGS):
    return relay.mcp_server.serve(FakeSession(stream_of()), request, {}, settings)


@pytest.mark.parametrize(
    ("answer", "path", "methods"),
    [
        (native, f"/chat/{APP_ID}", "GET, POST, OPTIONS"),
        (lambda r: openai(relay.openai_compat.MODELS, r), "/v1/models", "GET, OPTIONS"),
        (lambda r: openai(relay.openai_compat.CHAT_COMPLETIONS, r), "/v1/chat/completions", "POST, OPTIONS"),
        (mcp, "/mcp", "POST, OPTIONS"),
    ],
    ids=["native", "models", "chat completions", "mcp"],
)
def test_a_preflight_names_the_methods_of_its_route_and_needs_no_key(answer, path, methods):
    response = answer(make_request(path, "OPTIONS", headers=PREFLIGHT))
    assert response.status_code == 204
    assert response.headers["Allow"] == methods
    assert response.headers["Access-Control-Allow-Methods"] == methods


def test_a_method_a_surface_does_not_serve_is_405_with_allow_after_the_key():
    assert mcp(make_request("/mcp", "GET")).status_code == 401
    response = mcp(make_request("/mcp", "GET", headers={"X-API-Key": "k"}))
    assert response.status_code == 405 and response.headers["Allow"] == "POST, OPTIONS"


def test_a_form_field_carries_the_key_on_the_pages_only():
    form = {"api_key": "k", "query": "hi"}
    assert native(make_request(f"/chat/{APP_ID}", "POST", data=form)).status_code == 200
    refused = mcp(make_request("/mcp", "POST", data=form))
    assert refused.status_code == 401
    completions = openai(relay.openai_compat.CHAT_COMPLETIONS, make_request("/v1/chat/completions", "POST", data=form))
    assert completions.status_code == 401


@dataclass(frozen=True)
class Broken:
    """A surface whose answer fails in every way a surface can."""

    failure: Exception
    name: str = "broken"
    methods: tuple[str, ...] = ("GET",)
    expose_headers: tuple[str, ...] = ()
    vary: tuple[str, ...] = ()
    form_key: bool = False
    foreign_origins: bool = True
    public: bool = False

    def answer(self, exchange: Exchange) -> Response:
        raise self.failure

    def error(self, error: RelayError, exchange: Exchange) -> Response:
        return Response(json.dumps([error.status, error.code]), status=error.status)


def test_errors_reach_the_surfaces_renderer_and_faults_its_500_without_a_traceback(caplog):
    session = FakeSession(stream_of())
    refused = shell.serve(Broken(RelayError(418, "teapot", "no")), session, make_request(), {}, serving())
    assert (refused.status_code, json.loads(refused.get_data())) == (418, [418, "teapot"])
    faulted = shell.serve(Broken(KeyError("/srv/secret.py")), session, make_request(), {}, serving())
    assert (faulted.status_code, json.loads(faulted.get_data())) == (500, [500, "internal_error"])
    assert "secret" not in faulted.get_data(as_text=True)
    assert "Traceback" in caplog.text or "KeyError" in caplog.text


def test_a_caller_without_the_key_costs_nothing_and_learns_nothing_of_the_settings():
    session = FakeSession(stream_of())
    broken_settings = {"allowed_apps": "not an entry!", "api_key": "k"}
    response = relay.native.serve(session, make_request(), {"app_id": APP_ID}, broken_settings, relay.CHAT)
    assert response.status_code == 401 and session.app.calls == []
