"""``PluginProcess`` drives a real plugin subprocess over the daemon's stdio protocol."""

import json
import shutil
import threading
import time

import pytest

from devkit.daemon.process import (
    APP_PERMISSION_DENIED,
    APP_READ_TIMEOUT_ERROR,
    PluginError,
    PluginProcess,
    as_relayed,
    dify_json,
)
from devkit.demo.apps import CHATBOT_APP_ID, WORKFLOW_APP_ID, DemoApps
from devkit.plugin import MAX_LINE_BYTES
from tests.devkit.conftest import ECHO_PLUGIN, GATED_APP_ID, RAW_APP_ID


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
        # Dify answers a call it cannot start with HTTP 400 and compact JSON; the daemon quotes that answer whole.
        body = f'{{"code":"invalid_param","message":"{message}","status":400}}'
        return f"{prefix}: request failed with status code: 400 and respond with: {body}\n"

    assert app_call(plugin, "chat", unknown, query="hi") == [{"error": refused("invoke app failed", "app not found")}]
    assert app_call(plugin, "workflow", CHATBOT_APP_ID) == [{"error": refused("invoke app failed", "missing query")}]
    # fetch_app never quotes Dify: the daemon parses the 400 body as an answer and finds no data in it.
    assert plugin.request("GET", f"/fetch/{unknown}").json() == {"error": "fetch app failed: data is nil"}
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


def test_an_unknown_conversation_is_dify_s_empty_400_quoted_whole(plugin):
    # ConversationNotExistsError has no message; Dify writes compact JSON and a newline (measured).
    unknown = "00000000-0000-4000-8000-00000000c0de"
    assert app_call(plugin, "chat", CHATBOT_APP_ID, query="hi", conversation_id=unknown) == [
        {
            "error": "invoke app failed: request failed with status code: 400 and respond with: "
            '{"code":"invalid_param","message":"","status":400}\n'
        }
    ]


def test_slashes_in_a_refusal_are_escaped_as_dify_escapes_them(plugin):
    document = {"type": "document", "transfer_method": "remote/url", "url": "http://127.0.0.1:9/none.txt"}
    refused = app_call(plugin, "workflow", WORKFLOW_APP_ID, inputs={"topic": "x", "attachment": document})
    assert refused == [
        {
            "error": "invoke app failed: request failed with status code: 400 and respond with: "
            '{"code":"invalid_param","message":"No matching enum found for value \'remote\\/url\'","status":400}\n'
        }
    ]
    assert dify_json({"message": "é"}) == '{"message":"\\u00e9"}\n'  # not measured: json.dumps's default


def test_user_is_ignored_so_any_caller_continues_a_conversation(plugin):
    first = app_call(plugin, "chat", CHATBOT_APP_ID, query="one", user="alice")
    conversation = first[-1]["conversation_id"]
    second = app_call(plugin, "chat", CHATBOT_APP_ID, query="two", user="bob", conversation_id=conversation)
    assert {event["conversation_id"] for event in second} == {conversation}
    assert "turn 2" in "".join(event.get("answer", "") for event in second)


def test_a_model_error_is_an_error_event_when_streaming_and_dify_s_generic_500_when_blocking(plugin):
    (event,) = app_call(plugin, "chat", CHATBOT_APP_ID, query="quota")
    assert event["event"] == "error" and event["code"] == "provider_quota_exceeded" and event["status"] == 400
    assert "task_id" not in event and "id" not in event
    assert app_call(plugin, "chat", CHATBOT_APP_ID, query="model-error", response_mode="blocking") == [
        {
            "error": "invoke app failed: request failed with status code: 500 and respond with: "
            '{"message":"Internal Server Error","code":"unknown","status":500}\n'
        }
    ]


def test_events_reach_the_plugin_as_the_daemon_re_encodes_them(plugin):
    sent = {"zeta": 1, "event": "message", "answer": "x", "elapsed": 2.0, "nested": {"b": [1.5, 3.0], "a": 10**17 + 1}}
    (received,) = app_call(plugin, "chat", RAW_APP_ID, query="x", inputs={"events": [sent]})
    assert list(received) == ["answer", "elapsed", "event", "nested", "zeta"]
    assert list(received["nested"]) == ["a", "b"]
    assert received["elapsed"] == 2 and isinstance(received["elapsed"], int)  # a float64 with no fraction
    assert received["nested"] == {"a": 10**17, "b": [1.5, 3]}  # beyond 2**53 precision is lost


def test_as_relayed_sorts_keys_and_passes_numbers_through_float64():
    assert as_relayed({"b": True, "a": None, "c": [0.0, -1e21, 1e-7, "s"]}) == {
        "a": None,
        "b": True,
        "c": [0, -1e21, 1e-7, "s"],
    }
    assert list(as_relayed({"é": 1, "z": 2, "A": 3})) == ["A", "z", "é"]  # byte order of UTF-8, as Go sorts


def test_the_largest_stdout_line_is_recorded(apps):
    with PluginProcess(ECHO_PLUGIN, apps) as process:
        assert process.max_line_bytes > 0
        process.request("GET", "/big/100000").read()
        # 100000 bytes of body travel as 200000 hex characters on one line, inside the session envelope.
        assert 200_000 < process.max_line_bytes < 201_000
        before = process.max_line_bytes
        process.request("GET", "/big/10").read()
        assert process.max_line_bytes == before
        with pytest.raises(PluginError, match="5 MiB"):
            process.request("GET", f"/big/{3 * 1024 * 1024}")
        assert process.max_line_bytes >= MAX_LINE_BYTES


def test_the_daemon_closes_an_app_call_after_its_read_timeout_silent_or_not():
    silent = DemoApps(token_delay=0, silence=3)
    with PluginProcess(ECHO_PLUGIN, silent, app_read_timeout=0.5) as process:
        events = app_call(process, "chat", CHATBOT_APP_ID, query="silent please")
        assert events[0]["event"] == "message"
        assert events[-1] == {"error": APP_READ_TIMEOUT_ERROR}
        assert APP_READ_TIMEOUT_ERROR.endswith(": use of closed network connection\nfailed to read system header")
        assert APP_READ_TIMEOUT_ERROR.startswith("read app failed: read tcp ")
    # The timer runs from the answer's start: a chatty app is cut as well.
    chatty = DemoApps(token_delay=0.05)
    with PluginProcess(ECHO_PLUGIN, chatty, app_read_timeout=0.3) as process:
        events = app_call(process, "chat", CHATBOT_APP_ID, query="a long answer, word by word")
        assert 2 < len(events) < 20
        assert events[-1] == {"error": APP_READ_TIMEOUT_ERROR}


def test_the_read_timeout_comes_from_the_daemon_s_variable_in_milliseconds(apps, monkeypatch):
    monkeypatch.setenv("DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT", "1500")
    assert PluginProcess(ECHO_PLUGIN, apps).app_read_timeout == 1.5
    monkeypatch.delenv("DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT")
    assert PluginProcess(ECHO_PLUGIN, apps).app_read_timeout == 240


def test_the_sdk_gives_up_on_a_silent_app_call_after_max_invocation_timeout():
    # DifyPluginEnv reads MAX_INVOCATION_TIMEOUT from the plugin's environment: the SDK's own 250 s limit, lowered.
    silent = DemoApps(token_delay=0, silence=3)
    with PluginProcess(ECHO_PLUGIN, silent, max_invocation_timeout=1) as process:
        assert process.env["MAX_INVOCATION_TIMEOUT"] == "1"
        events = app_call(process, "chat", CHATBOT_APP_ID, query="silent please")
        assert events[0]["event"] == "message"
        assert events[-1] == {"error": "invocation exited without response after 1 seconds"}
