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
    status, code, message = error_of(plugin.request("GET", f"/chat/{CHAT_APP}?query=hi", settings=settings))
    assert (status, code) == (403, "endpoint_not_configured")
    assert "allowed_apps" in message
    page = plugin.request("GET", f"/workflow/{WORKFLOW_APP}", headers=HTML, settings=settings)
    assert page.status == 403
    text = page.text()
    assert "not set up yet" in text and "allowed_apps" in text
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
