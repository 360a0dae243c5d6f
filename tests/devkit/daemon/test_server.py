"""The devkit server stands where Dify's daemon stands: routing, header and body rewriting, streaming, restarts."""

import hashlib
import http.client
import json
import os
import signal
import socket
import threading
import time

import pytest

from devkit.demo.apps import CHATBOT_APP_ID
from devkit.plugin import MAX_BODY_BYTES
from devkit.serve import create_server
from tests.devkit.conftest import ECHO_PLUGIN, GATED_APP_ID, SETTINGS, call


def echoed(server, method="GET", path="/e/hook1/echo/x", **kwargs):
    reply = call(server, method, path, **kwargs)
    assert reply.status == 200, reply.body
    return json.loads(reply.body)


def header(description, name):
    return next((value for key, value in description["headers"] if key.lower() == name.lower()), None)


def test_hook_paths_reach_the_plugin_without_the_prefix(server):
    seen = echoed(server, path="/e/anyhook/echo/a/b?b=1&a=2")
    assert (seen["path"], seen["query_string"]) == ("/echo/a/b", "a=2&b=1")
    assert header(seen, "Dify-Hook-Id") == "anyhook"
    # Dify's nginx sets the hook URL to $scheme://$host$request_uri: no port, the raw URI with its query string.
    assert header(seen, "Dify-Hook-Url") == f"http://{server.display_host}/e/anyhook/echo/a/b?b=1&a=2"
    assert header(seen, "Host") == server.display_host
    assert header(seen, "X-Forwarded-Proto") == "http"


def test_a_chat_path_reaches_the_plugin(server):
    seen = echoed(server, path=f"/e/{server.hook_id}/chat/{CHATBOT_APP_ID}?query=hi")
    assert seen["values"] == {"app_id": CHATBOT_APP_ID}
    assert seen["settings"] == SETTINGS


@pytest.mark.parametrize("path", ["/", "/e", "/e/", "/x/hook/echo/a", "/E/hook/echo/a", "/favicon.ico"])
def test_other_paths_are_404(server, path):
    assert call(server, "GET", path).status == 404


def test_patch_is_the_daemon_s_json_404_as_it_does_not_route_it(server):
    reply = call(server, "PATCH", "/e/hook/echo/x", body=b"{}")
    assert reply.status == 404
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.body == b'{"code":"not_found","message":"route not found"}'


@pytest.mark.parametrize("path", ["/e", "/e/", "/e//echo"])
def test_unrouted_daemon_paths_get_the_same_json_404(server, path):
    reply = call(server, "GET", path)
    assert (reply.status, reply.body) == (404, b'{"code":"not_found","message":"route not found"}')


def test_a_bare_hook_path_is_redirected_to_its_slash_as_gin_does(server):
    reply = call(server, "GET", "/e/hook?x=1")
    assert (reply.status, reply.headers["Location"]) == (301, "/e/hook/?x=1")
    reply = call(server, "POST", "/e/hook", body=b"{}")
    assert (reply.status, reply.headers["Location"]) == (307, "/e/hook/")


def raw_exchange(server, request: bytes) -> bytes:
    """Send bytes no HTTP client library would write; return everything until the server closes."""
    with socket.create_connection((server.display_host, server.server_port), timeout=30) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def test_nul_bytes_are_refused_by_nginx_before_the_daemon(server):
    page = b"<html>\r\n<head><title>400 Bad Request</title></head>"
    for request in (
        b"GET /e/hook/echo/a%00b HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /e/hook/echo/a\x00b HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /e/hook/echo/x HTTP/1.1\r\nHost: h\r\nX-Thing: a\x00b\r\n\r\n",
    ):
        answer = raw_exchange(server, request)
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"\r\nContent-Type: text/html\r\n" in answer and b"\r\nConnection: close\r\n" in answer
        assert answer.split(b"\r\n\r\n", 1)[1].startswith(page)
    # In the query string nginx decodes nothing: the daemon re-encodes it and the plugin gets it.
    assert echoed(server, path="/e/hook/echo/x?a=%00")["query_string"] == "a=%00"


def test_a_newline_in_the_path_reaches_the_plugin_and_the_hook_url_stays_raw(server):
    seen = echoed(server, path="/e/hook/chat/a%0Ab")
    assert (seen["path"], seen["values"]) == ("/chat/a\nb", {"app_id": "a\nb"})
    assert header(seen, "Dify-Hook-Url") == f"http://{server.display_host}/e/hook/chat/a%0Ab"


def test_header_names_with_underscores_are_dropped_by_nginx(server):
    seen = echoed(server, headers={"X_Bad": "1", "X-Good": "2"})
    assert header(seen, "X-Good") == "2"
    assert not any("_" in name for name, _ in seen["headers"])


def test_a_client_cannot_spoof_the_hook_url_behind_nginx(server):
    seen = echoed(server, path="/e/hook/echo/x?q=1", headers={"Dify-Hook-Url": "https://evil/e/1/x"})
    assert header(seen, "Dify-Hook-Url") == f"http://{server.display_host}/e/hook/echo/x?q=1"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS"])
def test_the_daemon_s_methods_are_forwarded(server, method):
    assert echoed(server, method, "/e/hook/echo/m", body=b"data")["method"] == method


def test_forwarding_and_hop_by_hop_headers_are_dropped(server):
    seen = echoed(
        server,
        headers={
            "X-Forwarded-For": "10.0.0.1",
            "X-Real-IP": "10.0.0.1",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Keep-Alive": "timeout=5",
            "X-Custom": "kept",
        },
    )
    names = {name.lower() for name, _ in seen["headers"]}
    assert not names & {"x-forwarded-for", "x-real-ip", "connection", "keep-alive", "x-secret-hop"}
    assert header(seen, "X-Custom") == "kept"
    assert header(seen, "Dify-Hook-Id") == "hook1"


def test_bodies_are_cut_at_10_mib_with_the_length_rewritten(server):
    body = os.urandom(1024) * (MAX_BODY_BYTES // 1024) + b"beyond the cap"
    seen = echoed(server, "POST", body=body, headers={"Content-Type": "application/octet-stream"})
    assert seen["body_length"] == MAX_BODY_BYTES
    assert header(seen, "Content-Length") == str(MAX_BODY_BYTES)
    assert seen["body_sha256"] == hashlib.sha256(body[:MAX_BODY_BYTES]).hexdigest()


def test_a_chunked_request_body_arrives_with_a_content_length(server):
    seen = echoed(server, "POST", body=iter([b"hello ", b"world"]), encode_chunked=True)
    assert (seen["body_length"], seen["body_head"]) == (11, "hello world")
    assert header(seen, "Content-Length") == "11"
    assert header(seen, "Transfer-Encoding") is None


def test_the_first_event_reaches_the_client_while_the_app_is_still_running(server, apps):
    apps.gate.clear()
    connection = http.client.HTTPConnection(server.display_host, server.server_port, timeout=30)
    connection.request("POST", f"/e/hook/app/chat/{GATED_APP_ID}", body=b'{"query": "hi"}')
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    first = json.loads(response.readline())
    assert first["answer"] == "first"
    assert not apps.finished.is_set()  # the app is blocked on the gate: the event was flushed, not buffered
    apps.gate.set()
    assert json.loads(response.readline())["event"] == "message_end"
    assert response.read() == b""
    connection.close()


def test_twenty_concurrent_streams_never_mix(server):
    results: dict[int, list[dict]] = {}

    def ask(number: int) -> None:
        query = f"stream {number}"
        reply = call(server, "POST", f"/e/hook/app/chat/{CHATBOT_APP_ID}", body=json.dumps({"query": query}))
        results[number] = [json.loads(line) for line in reply.body.splitlines()]

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == list(range(24))
    for number, events in results.items():
        assert events[-1]["event"] == "message_end"
        assert f"stream {number}”" in "".join(event.get("answer", "") for event in events)
        assert len({event["message_id"] for event in events}) == 1


def test_a_plugin_failure_before_the_first_chunk_is_the_daemon_s_500(server):
    reply = call(server, "GET", "/e/hook/fail/first")
    assert reply.status == 500
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(reply.body)
    assert body["code"] == -500
    assert "broken on purpose (first)" in body["message"]


def test_a_plugin_failure_after_the_first_chunk_is_appended_to_the_body(server):
    reply = call(server, "GET", "/e/hook/fail/later")
    assert reply.status == 200
    assert reply.body.startswith(b"partial {")
    error = json.loads(reply.body[len(b"partial ") :])
    assert (error["error_type"], error["message"]) == ("RuntimeError", "broken on purpose (later)")
    assert "Traceback" in error["args"]["traceback"]


def test_the_plugin_s_content_length_is_kept_instead_of_chunking(server):
    connection = http.client.HTTPConnection(server.display_host, server.server_port, timeout=30)
    try:
        connection.request("GET", "/e/hook/length/6")
        response = connection.getresponse()
        assert response.getheader("Content-Length") == "6"
        assert response.getheader("Transfer-Encoding") is None
        assert response.read() == b"abcdef"
    finally:
        connection.close()
    # Go's server writes no byte beyond the declared length...
    assert call(server, "GET", "/e/hook/length/4").body == b"abcd"
    # ...and closes the connection when the body falls short of it.
    connection = http.client.HTTPConnection(server.display_host, server.server_port, timeout=30)
    try:
        connection.request("GET", "/e/hook/length/10")
        response = connection.getresponse()
        with pytest.raises(http.client.IncompleteRead) as short:
            response.read()
        assert short.value.partial == b"abcdef"
    finally:
        connection.close()


def test_killed_by_timeout_is_appended_to_a_body_that_already_has_its_status(apps):
    killed = (
        b'{"code":-500,"message":"{\\"message\\":\\"killed by timeout\\",'
        b'\\"error_type\\":\\"PluginDaemonInternalServerError\\",\\"args\\":null}","data":null}'
    )
    with create_server(
        ECHO_PLUGIN, apps, console=lambda _: None, plugin_log=lambda _: None, max_execution_timeout=0.5
    ) as server:
        server.serve_in_background()
        reply = call(server, "GET", "/e/hook/slow/3")
        assert reply.status == 200
        assert reply.body == b"first\n" + killed
        assert call(server, "GET", "/e/hook/slow/0.01").body == b"first\nlate\n"


def test_the_execution_timeout_comes_from_the_daemon_s_variable(apps, monkeypatch):
    monkeypatch.setenv("PLUGIN_MAX_EXECUTION_TIMEOUT", "7")
    with create_server(ECHO_PLUGIN, apps, console=lambda _: None, plugin_log=lambda _: None) as server:
        assert server.max_execution_timeout == 7


def test_head_gets_headers_only(server):
    reply = call(server, "HEAD", f"/e/hook/chat/{CHATBOT_APP_ID}")
    assert reply.status == 200 and reply.body == b""
    assert reply.headers["Content-Type"] == "application/json"


def test_each_request_is_logged_on_the_console(server, console):
    call(server, "GET", "/e/hook/echo/logged-path")
    # The line is written once the answer is complete, which the client may see a moment earlier.
    deadline = time.monotonic() + 5
    while not any('"GET /e/hook/echo/logged-path HTTP/1.1" 200' in line for line in console):
        assert time.monotonic() < deadline, console
        time.sleep(0.01)


def test_a_killed_plugin_is_restarted_and_the_next_request_succeeds(apps):
    lines: list[str] = []
    with create_server(ECHO_PLUGIN, apps, console=lines.append, plugin_log=lambda _: None) as server:
        server.serve_in_background()
        first = server.supervisor.current
        assert call(server, "GET", "/e/hook/echo/before").status == 200
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while first.alive and time.monotonic() < deadline:
            time.sleep(0.02)
        assert call(server, "GET", "/e/hook/echo/after").status == 200
        assert server.supervisor.current is not first and server.supervisor.current.alive
        assert any("died" in line and "restarting" in line for line in lines)
        assert sum("plugin restarted" in line for line in lines) == 1


def test_a_client_that_leaves_is_noticed_while_the_plugin_is_silent(server, apps, console):
    # The daemon notices a departed client at once (gin's CloseNotify) and drops the request, which cancels the
    # plugin's app call; it does not wait for the plugin's next chunk to find out.
    apps.gate.clear()
    connection = http.client.HTTPConnection(server.display_host, server.server_port, timeout=30)
    connection.request("POST", f"/e/hook/app/chat/{GATED_APP_ID}", body=b'{"query": "left"}')
    response = connection.getresponse()
    assert json.loads(response.readline())["answer"] == "first"
    connection.close()  # the client is gone; the app still waits on its gate
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(f"/app/chat/{GATED_APP_ID}" in line for line in console):
        time.sleep(0.05)
    assert any(f"/app/chat/{GATED_APP_ID}" in line for line in console), "the request was not ended"
    assert not apps.finished.is_set()  # ended before the app said anything more
    apps.gate.set()
