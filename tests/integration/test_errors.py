"""Every error row of the contract, through the real plugin process, and the plugin keeps serving."""

import json

import pytest

from tests.integration.apps import (
    CHAT_APP,
    COMPLETION_APP,
    DIFY_ERROR_EVENT,
    FAILING_APP,
    GATED_APP,
    UNKNOWN_APP,
    UNREACHABLE_APP,
    WORKFLOW_APP,
)

OTHER_APP = "0e2b7d38-91c4-4f0a-8c57-3a6d1e9b2f44"


def error_of(response) -> tuple[int, str, str]:
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return response.status, body["error"]["code"], body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "needle"),
    [
        ("GET", f"/chat/{CHAT_APP}?query=hi&format=yaml", {}, b"", "yaml"),
        ("GET", f"/chat/{CHAT_APP}", {}, b"", "query is required"),
        ("POST", f"/chat/{CHAT_APP}", {"Content-Type": "application/json"}, b"{oops", "not valid JSON"),
        ("POST", f"/chat/{CHAT_APP}", {"Content-Type": "application/json"}, b"[1]", "must be an object"),
        ("POST", f"/chat/{CHAT_APP}", {"Content-Type": "application/json"}, b'{"query": 1}', "query must be a string"),
        ("GET", f"/chat/{CHAT_APP}?query=hi&response_mode=later", {}, b"", "response_mode"),
        ("GET", f"/workflow/{WORKFLOW_APP}?query=hi", {}, b"", "chat apps only"),
    ],
)
def test_invalid_requests_are_400(plugin, method, path, headers, body, needle):
    status, code, message = error_of(plugin.request(method, path, headers=headers, body=body))
    assert (status, code) == (400, "invalid_request")
    assert needle in message


def test_api_key(plugin):
    settings = {"api_key": "k-42"}
    path = f"/chat/{CHAT_APP}?query=hi"
    missing = plugin.request("GET", path, settings=settings)
    assert error_of(missing)[:2] == (401, "unauthorized")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert error_of(plugin.request("GET", path, headers={"Authorization": "Bearer nope"}, settings=settings))[0] == 401
    in_url = plugin.request("GET", path + "&api_key=k-42", settings=settings)
    assert "never accepted in the URL" in error_of(in_url)[2]
    assert plugin.request("GET", path, headers={"Authorization": "Bearer k-42"}, settings=settings).status == 200
    assert plugin.request("GET", path, headers={"X-API-Key": "k-42"}, settings=settings).status == 200
    form = plugin.request(
        "POST",
        f"/chat/{CHAT_APP}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"query=hi&api_key=k-42",
        settings=settings,
    )
    assert form.status == 200


def test_allow_list_is_checked_before_dify_is_called(plugin, apps):
    before = len(apps.calls)
    refused = plugin.request(
        "GET", f"/chat/{CHAT_APP}?query=hi", settings={"allowed_apps": f"{OTHER_APP}, x={OTHER_APP}"}
    )
    assert error_of(refused)[:2] == (403, "app_not_allowed")
    assert len(apps.calls) == before
    allowed = plugin.request("GET", f"/chat/{CHAT_APP}?query=hi", settings={"allowed_apps": f"{OTHER_APP} {CHAT_APP}"})
    assert allowed.status == 200


def test_malformed_app_id_is_404_without_calling_dify(plugin, apps):
    before = len(apps.calls)
    assert error_of(plugin.request("GET", "/chat/not-a-uuid?query=hi"))[:2] == (404, "app_not_found")
    assert len(apps.calls) == before


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_unknown_app_is_404_with_difys_message(plugin, fmt):
    status, code, message = error_of(plugin.request("GET", f"/chat/{UNKNOWN_APP}?query=hi&format={fmt}"))
    assert (status, code, message) == (404, "app_not_found", "app not found")


def test_wrong_app_type_for_the_path_is_400(plugin):
    # A chat app called through /workflow gets no query, and Dify refuses with "missing query".
    status, code, message = error_of(plugin.request("GET", f"/workflow/{CHAT_APP}?inputs.a=1"))
    assert (status, code) == (400, "invalid_input")
    assert message.startswith("missing query") and f"call it at /chat/{CHAT_APP}" in message
    page = plugin.request("GET", f"/workflow/{CHAT_APP}?inputs.a=1", headers={"Accept": "text/html"}).text()
    assert f'<a href="../chat/{CHAT_APP}">' in page


def test_body_over_8_mib_is_413(plugin):
    body = json.dumps({"query": "x" * (8 * 1024 * 1024)}).encode()
    response = plugin.request("POST", f"/chat/{CHAT_APP}", headers={"Content-Type": "application/json"}, body=body)
    assert error_of(response)[:2] == (413, "payload_too_large")


def test_html_errors_are_pages_with_the_same_status(plugin):
    response = plugin.request("GET", f"/chat/{UNKNOWN_APP}?query=hi", headers={"Accept": "text/html"})
    assert response.status == 404
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.text()
    assert "app not found" in page and "Traceback" not in page


def test_undeclared_methods_never_reach_the_plugin_code(plugin):
    response = plugin.request("PUT", f"/chat/{CHAT_APP}?query=hi")
    assert response.status == 404
    assert "Failed to dispatch endpoint request" in response.text()


def test_failure_mid_stream_ends_with_an_error_event_and_the_plugin_keeps_serving(plugin):
    response = plugin.request("GET", f"/chat/{FAILING_APP}?query=hi")
    events = response.lines()
    assert response.error is None  # the relay ended the stream itself: no exception escaped to the SDK
    assert [event["event"] for event in events] == ["message", "message", "error"]
    assert events[-1] == {"event": "error", "code": "invocation_failed", "message": "model overloaded"}
    sse = plugin.request("GET", f"/chat/{FAILING_APP}?query=hi&format=sse").text()
    assert sse.endswith('data: {"event":"error","code":"invocation_failed","message":"model overloaded"}\n\n')
    page = plugin.request("GET", f"/chat/{FAILING_APP}?query=hi&format=html").text()
    assert 'role="alert"' in page and "model overloaded" in page
    assert plugin.request("GET", f"/chat/{CHAT_APP}?query=again").status == 200


def test_first_event_arrives_before_the_app_finishes(plugin, apps):
    apps.gate.clear()
    response = plugin.request("GET", f"/chat/{GATED_APP}?query=hi")
    chunks = response.chunks()
    first = next(chunks)
    assert json.loads(first)["answer"] == "first"  # the app is still blocked on the gate here
    apps.gate.set()
    rest = b"".join(chunks)
    assert json.loads(rest)["event"] == "message_end"


def test_completion_path_with_unknown_app(plugin):
    assert error_of(plugin.request("GET", f"/completion/{UNKNOWN_APP}?inputs.a=1"))[0] == 404
    assert plugin.request("GET", f"/completion/{COMPLETION_APP}?inputs.a=1").status == 200


def test_an_error_event_from_dify_is_relayed_unchanged(plugin):
    response = plugin.request("GET", f"/chat/{CHAT_APP}?query=quota")
    assert response.status == 200
    assert response.lines()[-1] == DIFY_ERROR_EVENT


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_network_errors_never_show_internal_hosts(plugin, fmt):
    response = plugin.request("GET", f"/chat/{UNREACHABLE_APP}?query=hi&format={fmt}")
    assert response.status == 502
    text = response.text()
    assert "Dify could not be reached" in text
    assert "172.18" not in text and "api:5001" not in text
    assert any("api:5001" in line for line in plugin.recent_logs)  # the admin still gets the details


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html"])
def test_a_network_failure_midway_ends_the_stream_without_internal_hosts(plugin, fmt):
    response = plugin.request("GET", f"/chat/{UNREACHABLE_APP}?query=midway&format={fmt}")
    assert response.status == 200
    text = response.text()
    assert "Dify could not be reached" in text
    assert "172.18" not in text and "api:5001" not in text
    assert any("read app failed: Post" in line for line in plugin.recent_logs)
