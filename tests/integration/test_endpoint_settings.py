"""The endpoint's settings through the real plugin process: closed until configured, apps by name and type,
keys that rotate. Setting names come from the plugin's own declaration."""

import pytest

from tests import declarations
from tests.integration.apps import CHAT_APP, WORKFLOW_APP

SETTINGS = {setting["name"]: setting for setting in declarations.settings()}
ALLOWED, KEY = "allowed_apps", "api_key"
NAMED = {ALLOWED: f"support={CHAT_APP}, workflow:translate={WORKFLOW_APP}"}
HTML = {"Accept": "text/html"}


def error_of(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status, body["error"]["code"], body["error"]["message"]


def test_the_settings_this_file_is_about_are_declared_and_allowed_apps_is_required():
    assert SETTINGS[ALLOWED]["required"] is True
    assert SETTINGS[KEY]["type"] == "secret-input"


@pytest.mark.parametrize("empty", ["", "  ", None])
def test_an_endpoint_without_allowed_apps_serves_nothing(plugin, apps, empty):
    before = len(apps.calls)
    settings = {ALLOWED: empty, KEY: "k"}
    keyed = {"Authorization": "Bearer k"}
    # A caller without the key learns nothing of the endpoint, not even that it is not set up.
    assert error_of(plugin.request("GET", f"/chat/{CHAT_APP}?query=hi", settings=settings))[:2] == (401, "unauthorized")
    status, code, message = error_of(
        plugin.request("GET", f"/chat/{CHAT_APP}?query=hi", headers=keyed, settings=settings)
    )
    assert (status, code) == (403, "endpoint_not_configured")
    assert "allowed_apps" in message
    page = plugin.request("GET", f"/workflow/{WORKFLOW_APP}", headers=HTML | keyed, settings=settings)
    assert page.status == 403
    text = page.text()
    assert "not set up yet" in text and "allowed_apps" in text
    assert len(apps.calls) == before


# Every route of the relay but the preflights, which need no settings (they only say which methods and headers may
# come), and the hidden routes Dify itself fetches, whose signed addresses are their own proof.
ROUTES = [
    route for route in declarations.routes() if route.relay_route and route.method != "OPTIONS" and not route.hidden
]
WRONG_SETTINGS = [("", 403, "endpoint_not_configured"), ("chat:Bad_Name=x", 500, "endpoint_misconfigured")]


@pytest.mark.parametrize(("setting", "status", "code"), WRONG_SETTINGS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_every_route_says_when_the_endpoint_is_not_or_wrongly_set_up(plugin, apps, route, setting, status, code):
    before = len(apps.calls)
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}' if route.method == "POST" else b""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    path = route.path.replace("<app_id>", CHAT_APP)
    response = plugin.request(route.method, path, headers=headers, body=body, settings={ALLOWED: setting})
    assert response.status == status
    assert code in response.text()
    if code == "endpoint_misconfigured":
        assert "Bad_Name" in response.text()  # the admin is told which entry to fix
    assert len(apps.calls) == before


def test_star_serves_every_app(plugin):
    response = plugin.request("GET", f"/chat/{CHAT_APP}?query=hi", settings={ALLOWED: "*"})
    assert response.status == 200
    assert response.lines()[-1]["event"] == "message_end"


def test_a_name_works_wherever_an_app_id_does(plugin, apps):
    chat = plugin.request("GET", "/chat/support?query=hi", settings=NAMED)
    assert chat.status == 200
    chat.read()
    assert apps.calls[-1]["app_id"] == CHAT_APP
    workflow = plugin.request("GET", "/workflow/translate?inputs.topic=tea&format=json", settings=NAMED)
    assert workflow.json()["data"]["status"] == "succeeded"
    assert apps.calls[-1]["app_id"] == WORKFLOW_APP
    by_id = plugin.request("GET", f"/chat/{CHAT_APP}?query=hi", settings=NAMED)
    assert by_id.status == 200
    by_id.read()


def test_a_typed_app_through_another_types_path_is_told_the_right_path(plugin, apps):
    before = len(apps.calls)
    status, code, message = error_of(plugin.request("GET", "/chat/translate?query=hi", settings=NAMED))
    assert (status, code) == (400, "invalid_request")
    assert "/workflow/translate" in message
    assert len(apps.calls) == before


def test_unknown_names_are_404_and_unlisted_ids_403(plugin):
    assert error_of(plugin.request("GET", "/chat/sales?query=hi", settings=NAMED))[:2] == (404, "app_not_found")
    other = "0e2b7d38-91c4-4f0a-8c57-3a6d1e9b2f44"
    assert error_of(plugin.request("GET", f"/chat/{other}?query=hi", settings=NAMED))[:2] == (403, "app_not_allowed")


@pytest.mark.parametrize("path", ["/chat/support?query=hi", "/workflow/anything"])
def test_a_malformed_list_is_reported_on_every_request(plugin, path):
    settings = {ALLOWED: f"support={CHAT_APP}, Bad Entry"}
    status, code, message = error_of(plugin.request("GET", path, settings=settings))
    assert (status, code) == (500, "endpoint_misconfigured")
    assert "'Bad'" in message
    page = plugin.request("GET", path, headers=HTML, settings=settings)
    assert page.status == 500 and "settings need fixing" in page.text()


def test_pages_show_the_apps_name(plugin):
    form = plugin.request("GET", "/chat/support", headers=HTML, settings=NAMED).text()
    assert "<h1>support</h1>" in form
    answer = plugin.request("GET", "/workflow/translate?inputs.topic=tea&format=html", settings=NAMED).text()
    assert "<h1>translate</h1>" in answer


def test_several_keys_let_an_admin_rotate_them(plugin):
    path = f"/chat/{CHAT_APP}?query=hi"
    both = {KEY: "old-key, new-key"}
    for key in ("old-key", "new-key"):
        response = plugin.request("GET", path, headers={"Authorization": f"Bearer {key}"}, settings=both)
        assert response.status == 200
        response.read()
    after = {KEY: "new-key"}
    refused = plugin.request("GET", path, headers={"Authorization": "Bearer old-key"}, settings=after)
    assert error_of(refused)[:2] == (401, "unauthorized")
