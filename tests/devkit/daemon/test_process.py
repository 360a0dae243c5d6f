"""``PluginProcess`` drives a real plugin subprocess over the daemon's stdio protocol."""

import json
import shutil
import threading
import time

import pytest

from devkit.daemon.process import APP_PERMISSION_DENIED, PluginError, PluginProcess
from devkit.demo.apps import CHATBOT_APP_ID, WORKFLOW_APP_ID
from tests.devkit.conftest import ECHO_PLUGIN, GATED_APP_ID


def echo(plugin, method, path, **kwargs):
    response = plugin.request(method, path, **kwargs)
    assert response.status == 200
    return response.json()


def header(description, name):
    return next((value for key, value in description["headers"] if key.lower() == name.lower()), None)


def app_call(plugin, kind, app_id, **fields):
    return plugin.request("POST", f"/app/{kind}/{app_id}", body=json.dumps(fields).encode()).lines()


def test_start_waits_for_the_manifest_and_a_heartbeat(plugin):
    assert plugin.alive
    assert plugin.manifest["name"] == "echo"
    assert plugin.manifest["resource"]["permission"]["app"]["enabled"] is True


def test_a_request_reaches_the_plugin_as_the_daemon_writes_it(plugin):
    seen = echo(plugin, "GET", "/echo/a%20b?z=1&a=2", headers={"X-Forwarded-For": "1.2.3.4", "x-thing": "yes"})
    assert (seen["method"], seen["path"], seen["query_string"]) == ("GET", "/echo/a b", "a=2&z=1")
    assert header(seen, "Dify-Hook-Id") == "5f1c9b3e8a7d4c2e9b6a0d1f3e5c7a9b"
    assert header(seen, "Dify-Hook-Url") == "http://localhost/e/5f1c9b3e8a7d4c2e9b6a0d1f3e5c7a9b/echo/a b"
    assert header(seen, "X-Thing") == "yes"
    assert header(seen, "X-Forwarded-For") is None


def test_settings_and_hook_id_are_passed_on(plugin):
    seen = echo(plugin, "GET", "/echo/x", settings={"greeting": "hi"}, hook_id="abc")
    assert seen["settings"] == {"greeting": "hi"}
    assert header(seen, "Dify-Hook-Id") == "abc"


def test_an_empty_post_arrives_as_go_s_chunked_terminator(plugin):
    # Go sends an empty POST body chunked; the SDK's parser then hands the plugin the 5 framing bytes.
    seen = echo(plugin, "POST", "/echo/x")
    assert (seen["body_length"], seen["body_head"]) == (5, "0\r\n\r\n")


def test_send_raw_passes_bytes_unchanged(plugin):
    raw = b"PUT /echo/raw?k=v HTTP/1.1\r\nHost: example\r\nContent-Length: 3\r\n\r\nabc"
    seen = plugin.send_raw(raw).json()
    assert (seen["method"], seen["path"], seen["query_string"], seen["body_head"]) == ("PUT", "/echo/raw", "k=v", "abc")
    assert header(seen, "Dify-Hook-Id") is None


def test_an_unrouted_path_is_the_sdk_s_404(plugin):
    response = plugin.request("GET", "/nowhere")
    assert response.status == 404
    assert "Failed to dispatch endpoint request" in response.text()


def test_app_events_stream_in_order_one_chunk_each(plugin):
    response = plugin.request("POST", f"/app/chat/{CHATBOT_APP_ID}", body=b'{"query": "hi there"}')
    events = response.lines()
    assert [event["event"] for event in events][-1] == "message_end"
    assert len(response.chunk_sizes) == len(events)
    assert response.chunk_times == sorted(response.chunk_times)
    assert "hi there" in "".join(event.get("answer", "") for event in events)


def test_backwards_errors_are_worded_like_the_daemon(plugin):
    unknown = "00000000-0000-4000-8000-000000000000"

    def refused(prefix: str, message: str) -> str:
        # Dify answers a call it cannot start with HTTP 400 and JSON; the daemon quotes that answer whole.
        body = f'{{"code": "invalid_param", "message": "{message}", "status": 400}}'
        return f"{prefix}: request failed with status code: 400 and respond with: {body}\n"

    assert app_call(plugin, "chat", unknown, query="hi") == [{"error": refused("invoke app failed", "app not found")}]
    assert app_call(plugin, "workflow", CHATBOT_APP_ID) == [{"error": refused("invoke app failed", "missing query")}]
    assert plugin.request("GET", f"/fetch/{unknown}").json() == {"error": refused("fetch app failed", "app not found")}
    # Once the stream runs, an error comes as an item of it, wrapped in the daemon's call-site names.
    crashed = app_call(plugin, "chat", CHATBOT_APP_ID, query="please crash")
    assert crashed[-1]["error"].startswith("read app failed: request failed: ")
    assert len(crashed) > 1


def test_blocking_calls_get_one_result(plugin):
    lines = app_call(plugin, "workflow", WORKFLOW_APP_ID, inputs={"topic": "tea"}, response_mode="blocking")
    assert len(lines) == 1 and lines[0]["data"]["status"] == "succeeded"


def test_fetch_app_returns_the_parameters(plugin):
    parameters = plugin.request("GET", f"/fetch/{CHATBOT_APP_ID}").json()
    assert parameters["opening_statement"]
    assert isinstance(parameters["user_input_form"], list)


def test_a_session_error_before_the_response_raises(plugin):
    # The SDK's request parser refuses header names with "_" before any endpoint runs.
    with pytest.raises(PluginError, match="Invalid HTTP header") as caught:
        plugin.request("GET", "/echo/x", headers={"X_Bad": "1"})
    assert caught.value.data["error_type"] == "ValueError"


def test_a_session_error_after_the_head_ends_the_body_with_error(plugin):
    later = plugin.request("GET", "/fail/later")
    assert (later.status, later.read(), later.error) == (200, b"partial ", "broken on purpose (later)")
    assert later.error_data["error_type"] == "RuntimeError"
    first = plugin.request("GET", "/fail/first")
    assert (first.read(), first.error) == (b"", "broken on purpose (first)")


def test_plugin_logs_and_bare_lines_reach_the_log(plugin):
    assert plugin.request("GET", "/log").text() == "logged"
    deadline = time.monotonic() + 5
    wanted = {"INFO: hello from the echo plugin", "a bare line that is not JSON"}
    while not wanted <= set(plugin.recent_logs) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert wanted <= set(plugin.recent_logs)


def test_many_concurrent_requests_never_mix(plugin):
    results: dict[int, list[dict]] = {}

    def ask(number: int) -> None:
        results[number] = app_call(plugin, "chat", CHATBOT_APP_ID, query=f"question {number}")

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == list(range(24))
    conversations = set()
    for number, events in results.items():
        assert events[-1]["event"] == "message_end"
        assert f"question {number}”" in "".join(event.get("answer", "") for event in events)
        ids = {event["conversation_id"] for event in events}
        assert len(ids) == 1
        conversations |= ids
    assert len(conversations) == 24


def test_stop_ends_the_process_and_fails_open_requests(apps, tmp_path):
    process = PluginProcess(ECHO_PLUGIN, apps)
    process.start()
    apps.gate.clear()
    response = process.request("POST", f"/app/chat/{GATED_APP_ID}", body=b'{"query": "x"}')
    assert json.loads(next(response.chunks()))["answer"] == "first"
    process.stop()
    apps.gate.set()
    assert not process.alive
    assert list(response.chunks()) == []
    assert response.error == "the plugin was stopped"
    with pytest.raises(PluginError):
        process.request("GET", "/echo/x")


def test_a_stdout_line_of_5_mib_kills_the_plugin_like_the_daemon(apps):
    with PluginProcess(ECHO_PLUGIN, apps) as process:
        assert process.request("GET", "/big/1000").read() == b"x" * 1000
        # 3 MiB of body is 6 MiB of hex on one line.
        with pytest.raises(PluginError, match="5 MiB"):
            process.request("GET", f"/big/{3 * 1024 * 1024}")
        deadline = time.monotonic() + 5
        while process.alive and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process.alive


def test_app_calls_need_the_app_permission(apps, tmp_path):
    plugin_dir = tmp_path / "no_app_permission"
    shutil.copytree(ECHO_PLUGIN, plugin_dir, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = plugin_dir / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("    app:\n      enabled: true", "    app:\n      enabled: false"))
    with PluginProcess(plugin_dir, apps) as process:
        assert process.request("GET", f"/fetch/{CHATBOT_APP_ID}").json() == {"error": APP_PERMISSION_DENIED}


def test_a_plugin_that_cannot_start_reports_its_stderr(apps, tmp_path):
    (tmp_path / "main.py").write_text("import sys\nsys.exit('no plugin here')\n")
    with pytest.raises(PluginError, match="no plugin here"):
        PluginProcess(tmp_path, apps).start(timeout=20)
