"""CORS through the real plugin process: preflights answered by the plugin, origins echoed only when allowed."""

import pytest

from tests import declarations
from tests.integration.apps import CHAT_APP

SETTINGS = {"cors_allowed_origins": "https://web.example, https://other.example", "api_key": "k"}


def test_preflight_from_an_allowed_origin(plugin):
    response = plugin.request(
        "OPTIONS",
        f"/chat/{CHAT_APP}",
        headers={"Origin": "https://web.example", "Access-Control-Request-Method": "POST"},
        settings=SETTINGS,
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://web.example"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, X-API-Key"
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_preflight_from_another_origin_gets_no_cors_headers(plugin):
    response = plugin.request(
        "OPTIONS",
        f"/chat/{CHAT_APP}",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        settings=SETTINGS,
    )
    assert not [name for name in response.headers if name.lower().startswith("access-control")]


def test_answers_and_errors_echo_an_allowed_origin(plugin):
    ok = plugin.request(
        "GET",
        f"/chat/{CHAT_APP}?query=hi",
        headers={"Origin": "https://other.example", "X-API-Key": "k"},
        settings=SETTINGS,
    )
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://other.example"
    assert ok.headers["Vary"] == "Origin, Accept, Accept-Language"
    denied = plugin.request(
        "GET", f"/chat/{CHAT_APP}?query=hi", headers={"Origin": "https://web.example"}, settings=SETTINGS
    )
    assert denied.status == 401
    assert denied.headers["Access-Control-Allow-Origin"] == "https://web.example"


def test_no_cors_setting_sends_no_cors_headers(plugin):
    response = plugin.request("GET", f"/chat/{CHAT_APP}?query=hi", headers={"Origin": "https://web.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "route", [route for route in declarations.routes() if route.method == "OPTIONS"], ids=lambda route: route.path
)
def test_a_preflight_gets_the_headers_its_client_sends(plugin, route):
    # The OpenAI SDKs send X-Stainless-* headers on every request, MCP clients MCP-Protocol-Version.
    asked = "authorization, content-type, x-stainless-os, mcp-protocol-version"
    response = plugin.request(
        "OPTIONS",
        route.path.replace("<app_id>", CHAT_APP),
        headers={
            "Origin": "https://web.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
        settings=SETTINGS,
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Headers"] == asked
