"""The request bytes a plugin receives are the ones Dify's daemon writes (Go's ``http.Request.Write``)."""

import hashlib
import json

import pytest

from devkit.daemon.http import daemon_error_body, nginx_headers, nginx_host, plugin_error_text
from devkit.plugin import MAX_BODY_BYTES, build_daemon_request, canonical_header_key, go_header_value, normalize_query


def test_a_get_is_written_like_go_writes_it():
    raw = build_daemon_request(
        "GET",
        "/chat/abc?b=2&a=1",
        headers={"Host": "dify.example", "User-Agent": "curl/8", "accept": "*/*"},
        hook_id="h1",
    )
    assert raw == (
        b"GET /chat/abc?a=1&b=2 HTTP/1.1\r\n"
        b"Host: dify.example\r\n"
        b"User-Agent: curl/8\r\n"
        b"Accept: */*\r\n"
        b"Dify-Hook-Id: h1\r\n"
        b"Dify-Hook-Url: http://dify.example/e/h1/chat/abc\r\n"
        b"\r\n"
    )


def test_a_body_gets_its_length_and_a_missing_user_agent_gets_go_s():
    raw = build_daemon_request("POST", "/x", headers={"Host": "h"}, body=b"hello", hook_id="h1")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\r\nContent-Length: 5\r\n" in head + b"\r\n"
    assert b"\r\nUser-Agent: Go-http-client/1.1\r\n" in head
    assert body == b"hello"


@pytest.mark.parametrize(
    ("method", "framing", "body"),
    [
        ("POST", b"Transfer-Encoding: chunked", b"0\r\n\r\n"),
        ("PUT", b"Transfer-Encoding: chunked", b"0\r\n\r\n"),
        ("DELETE", b"Content-Length: 0", b""),
        ("OPTIONS", b"Content-Length: 0", b""),
        ("GET", None, b""),
        ("HEAD", None, b""),
    ],
)
def test_an_empty_body_is_framed_as_go_frames_it(method, framing, body):
    raw = build_daemon_request(method, "/x", headers={"Host": "h"}, hook_id="h1")
    head, _, rest = raw.partition(b"\r\n\r\n")
    framing_lines = [line for line in head.split(b"\r\n") if line.startswith((b"Content-Length", b"Transfer-Enc"))]
    assert framing_lines == ([framing] if framing else [])
    assert rest == body


def test_the_body_is_cut_at_10_mib_and_the_length_says_so():
    body = b"a" * MAX_BODY_BYTES + b"b" * 1000
    raw = build_daemon_request(
        "POST", "/x", headers={"Host": "h", "Content-Length": str(len(body))}, body=body, hook_id="h1"
    )
    head, _, sent = raw.partition(b"\r\n\r\n")
    assert f"Content-Length: {MAX_BODY_BYTES}".encode() in head
    assert head.count(b"Content-Length") == 1
    assert hashlib.sha256(sent).digest() == hashlib.sha256(body[:MAX_BODY_BYTES]).digest()


def test_forwarding_headers_are_removed_as_the_daemon_removes_them():
    raw = build_daemon_request(
        "GET",
        "/x",
        headers={
            "Host": "h",
            "X-Forwarded-For": "1.2.3.4",
            "X-Real-IP": "1.2.3.4",
            "X-Original-Url": "/secret",
            "X-Forwarded-Proto": "https",
            "X-Custom": "kept",
        },
        hook_id="h1",
    )
    text = raw.decode()
    assert "X-Forwarded-For" not in text and "X-Real-Ip" not in text and "X-Original-Url" not in text
    assert "X-Custom: kept" in text
    # The daemon keeps X-Forwarded-Proto and uses it for the hook URL's scheme.
    assert "X-Forwarded-Proto: https" in text
    assert "Dify-Hook-Url: https://h/e/h1/x" in text


def test_a_client_hook_url_is_kept_and_x_original_host_replaces_the_host():
    raw = build_daemon_request(
        "GET", "/x", headers={"Host": "inner", "Dify-Hook-Url": "https://spoof/e/1/x"}, hook_id="h1"
    ).decode()
    assert "Dify-Hook-Url: https://spoof/e/1/x" in raw
    raw = build_daemon_request("GET", "/x", headers={"Host": "inner", "X-Original-Host": "outer"}, hook_id="h1")
    assert b"\r\nHost: outer\r\n" in raw
    assert b"X-Original-Host" not in raw
    assert b"Dify-Hook-Url: http://outer/e/h1/x" in raw


def test_the_hook_id_header_always_wins():
    raw = build_daemon_request("GET", "/x", headers={"Host": "h", "dify-hook-id": "forged"}, hook_id="real")
    assert b"Dify-Hook-Id: real\r\n" in raw and b"forged" not in raw


def test_query_strings_are_re_encoded_like_url_values_encode():
    assert normalize_query("q=a+b&z=%7e&x=1;2&bad=%zz&a&&c=%C3%BC") == "a=&c=%C3%BC&q=a+b&z=~"
    assert normalize_query("k=2&j=1&k=1") == "j=1&k=2&k=1"


def test_paths_are_decoded_then_escaped_by_go_s_rules():
    raw = build_daemon_request("GET", "/echo/a%20b/%C3%BC/x:y@z", headers={"Host": "h"}, hook_id="h1")
    assert raw.startswith(b"GET /echo/a%20b/%C3%BC/x:y@z HTTP/1.1\r\n")
    assert "Dify-Hook-Url: http://h/e/h1/echo/a b/ü".encode() in raw


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("x-api-key", "X-Api-Key"),
        ("CONTENT-TYPE", "Content-Type"),
        ("dify-hook-id", "Dify-Hook-Id"),
        ("x_odd", "X_odd"),
        ("bad name", "bad name"),
    ],
)
def test_header_names_are_canonicalized(name, canonical):
    assert canonical_header_key(name) == canonical


def test_repeated_headers_stay_separate_lines_in_sorted_order():
    raw = build_daemon_request(
        "GET", "/x", headers=[("Host", "h"), ("X-B", "1"), ("x-a", "2"), ("X-B", "3")], hook_id="h1"
    )
    lines = raw.decode().split("\r\n")
    assert lines.index("X-A: 2") < lines.index("X-B: 1") < lines.index("X-B: 3")


def test_the_daemon_s_own_error_body_double_encodes_its_message():
    body = json.loads(daemon_error_body("boom"))
    assert body["code"] == -500 and body["data"] is None
    assert json.loads(body["message"]) == {
        "message": "boom",
        "error_type": "PluginDaemonInternalServerError",
        "args": None,
    }


def test_a_plugin_error_is_worded_as_go_marshals_a_map():
    text = plugin_error_text({"message": "<b>", "error_type": "ValueError", "args": {"traceback": "t"}}, "fallback")
    assert text == '{"args":{"traceback":"t"},"error_type":"ValueError","message":"\\u003cb\\u003e"}'
    assert plugin_error_text(None, "fallback") == "fallback"


def test_header_values_lose_newlines_as_go_writes_them():
    assert go_header_value(" a\r\nb\nc\t ") == "a  b c"
    # A %0A in the path is a newline in the daemon's own hook URL, written as a space; the request line escapes it.
    raw = build_daemon_request("GET", "/echo/a%0Ab%0D", headers={"Host": "h"}, hook_id="h1")
    assert raw.startswith(b"GET /echo/a%0Ab%0D HTTP/1.1\r\n")
    assert b"\r\nDify-Hook-Url: http://h/e/h1/echo/a b\r\n" in raw
    assert raw.count(b"\r\n\r\n") == 1


def test_nginx_sets_host_proto_and_the_hook_url_from_the_raw_uri():
    headers = nginx_headers(
        [
            ("Host", "Dify.Example:8080"),
            ("X_Token", "dropped"),
            ("X-Forwarded-For", "10.0.0.9"),
            ("X-Forwarded-Proto", "https"),
            ("Dify-Hook-Url", "https://spoofed"),
            ("Accept", "*/*"),
        ],
        request_uri="/e/abc/chat/x%20y?b=2&a=%41",
        client_ip="192.0.2.1",
        fallback_host="localhost",
        server_port=8080,
    )
    assert headers == [
        ("Host", "dify.example"),
        ("Accept", "*/*"),
        ("X-Forwarded-For", "10.0.0.9, 192.0.2.1"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Port", "8080"),
        ("Dify-Hook-Url", "http://dify.example/e/abc/chat/x%20y?b=2&a=%41"),
    ]
    assert nginx_host("[::1]:5002", "x") == "[::1]" and nginx_host(None, "fallback") == "fallback"
    # The daemon keeps the hook URL nginx set, query string and all, and removes the forwarding trail.
    raw = build_daemon_request("GET", "/chat/x%20y?b=2&a=%41", headers=headers, hook_id="abc")
    assert b"\r\nDify-Hook-Url: http://dify.example/e/abc/chat/x%20y?b=2&a=%41\r\n" in raw
    assert b"X-Forwarded-For" not in raw and b"\r\nX-Forwarded-Proto: http\r\n" in raw


def test_killed_by_timeout_is_the_daemon_s_error_body():
    assert daemon_error_body("killed by timeout") == (
        b'{"code":-500,"message":"{\\"message\\":\\"killed by timeout\\",'
        b'\\"error_type\\":\\"PluginDaemonInternalServerError\\",\\"args\\":null}","data":null}'
    )
