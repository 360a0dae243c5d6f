"""What the internet may send, through the real plugin process: no request kills, stalls or leaks.

Each test runs against the one plugin process of this module, which must still be alive and serving at the end
of every test; and no line the plugin writes to the daemon may come near the 5 MiB that kills it.
"""

import json
import threading

import pytest

from relay.native.limits import MAX_OPENING_STATEMENT_CHARS
from tests.integration.apps import CHAT_APP, GATED_APP, HUGE_APP, SCRIPTED_APP, WORKFLOW_APP

MIB = 1024 * 1024
LINE_BOUND = 1 * MIB
"""No stdout line of the plugin may pass this (the daemon kills at 5 MiB)."""

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def still_serving_and_small(plugin):
    yield
    assert plugin.alive, "the plugin process died"
    assert plugin.request("GET", f"/chat/{CHAT_APP}?query=still+there").status == 200
    assert plugin.max_line_bytes < LINE_BOUND


def error_of(response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return response.status, body["error"]["code"], body["error"]["message"]


def assert_no_internals(text: str) -> None:
    for leak in ("Traceback", 'File "', ".py", "site-packages"):
        assert leak not in text


# -- 1. every message stays small, whatever the input ---------------------------------------------------------


def test_a_huge_bad_value_is_quoted_short_in_the_error(plugin):
    response = plugin.request(
        "POST",
        f"/chat/{CHAT_APP}",
        headers=JSON,
        body=json.dumps({"query": "hi", "response_mode": "x" * (2_700_000)}).encode(),
    )
    status, code, message = error_of(response)
    assert (status, code) == (400, "invalid_request")
    assert len(message) < 400 and "…" in message


def test_an_escaped_html_echo_stays_small(plugin):
    body = b"query=hi&response_mode=" + b"%3C" * 340_000  # just under the 1 MiB of an urlencoded form
    response = plugin.request("POST", f"/chat/{CHAT_APP}?format=html", headers=FORM, body=body)
    assert response.status == 400
    assert len(response.read()) < 20_000


def test_an_app_call_too_large_to_send_is_413_before_dify_is_called(plugin, apps):
    before = len(apps.calls)
    # 6 MiB of JSON, under the body limit but over what one message to the daemon may carry.
    body = json.dumps({"query": "hi", "inputs": {"text": "y" * (6 * MIB)}}).encode()
    status, code, _ = error_of(plugin.request("POST", f"/chat/{CHAT_APP}", headers=JSON, body=body))
    assert (status, code) == (413, "payload_too_large")
    # 1.2 MB of control characters grow sixfold once encoded.
    form = b"query=hi&inputs.text=" + b"%01" * 1_200_000
    status, code, message = error_of(plugin.request("POST", f"/chat/{CHAT_APP}", headers=FORM, body=form))
    assert (status, code) == (413, "payload_too_large")
    assert "KiB" in message
    assert len(apps.calls) == before


def test_a_huge_form_page_goes_out_in_slices(plugin):
    response = plugin.request("GET", f"/chat/{HUGE_APP}", headers={"Accept": "text/html"})
    page = response.text()
    assert response.status == 200
    # The page shows the opening statement up to its bound (cut with an ellipsis), escaped, in slices.
    assert page.count("&lt;") == MAX_OPENING_STATEMENT_CHARS and "&lt;…" in page
    assert max(response.chunk_sizes) <= 256 * 1024


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_a_huge_dify_error_goes_out_in_slices(plugin, fmt):
    response = plugin.request("GET", f"/chat/{HUGE_APP}?query=hi&format={fmt}")
    assert response.status == 502
    assert len(response.read()) > 3 * MIB
    assert max(response.chunk_sizes) <= 256 * 1024


# -- 2. an unauthenticated caller cannot make the plugin work ------------------------------------------------


def test_an_unauthenticated_form_of_a_million_fields_is_refused_cheaply(plugin, apps):
    settings = {"api_key": "k-1"}
    body = b"&".join([b"f=1"] * 1_000_000)[: 8 * MIB]
    before = len(apps.calls)
    status, code, _ = error_of(plugin.request("POST", f"/chat/{CHAT_APP}", headers=FORM, body=body, settings=settings))
    assert (status, code) == (401, "unauthorized")  # the key was looked for, nothing was decoded
    escaped = b"f=" + b"%41" * (8 * MIB // 3 - 1)
    status, code, _ = error_of(
        plugin.request("POST", f"/chat/{CHAT_APP}", headers=FORM, body=escaped, settings=settings)
    )
    assert (status, code) == (401, "unauthorized")
    opened = plugin.request("POST", f"/chat/{CHAT_APP}", headers=FORM, body=escaped)
    assert error_of(opened)[:2] == (413, "payload_too_large")  # an open endpoint decodes no form past 1 MiB
    wrong_header = plugin.request(
        "POST", f"/chat/{CHAT_APP}", headers={**FORM, "X-API-Key": "nope"}, body=body, settings=settings
    )
    assert error_of(wrong_header)[:2] == (401, "unauthorized")
    assert len(apps.calls) == before


def test_hostile_requests_do_not_disturb_a_stream_in_flight(plugin, apps):
    apps.gate.clear()
    stream = plugin.request("GET", f"/chat/{GATED_APP}?query=hi")
    first = next(stream.chunks())
    body = b"&".join([b"f=1"] * 1_000_000)[: 8 * MIB]
    hostile = [
        threading.Thread(
            target=lambda: plugin.request(
                "POST", f"/chat/{CHAT_APP}", headers=FORM, body=body, settings={"api_key": "k"}
            ).read()
        )
        for _ in range(3)
    ]
    for thread in hostile:
        thread.start()
    for thread in hostile:
        thread.join(60)
    apps.gate.set()
    events = [json.loads(line) for line in (first + b"".join(stream.chunks())).splitlines()]
    assert [event["event"] for event in events] == ["message", "message_end"]


# -- 3. a renderer fault never sends a traceback ---------------------------------------------------------------

HOSTILE_EVENTS = [
    {"event": "message", "answer": "a", "metadata": {"usage": ["not", "a", "dict"]}},
    {"event": "message_file", "url": "http://[::1", "type": "image"},
    {"event": "message_file", "url": "//evil.example/x.png", "type": "image"},
    {"event": "message_file", "url": "/\\evil.example/x.png", "type": "image"},
    {"event": "node_finished", "data": {"title": "t", "elapsed_time": 10**400, "status": ["x"]}},
    {"event": "workflow_finished", "data": {"outputs": [1], "elapsed_time": 1e308 * 10, "status": {}}},
    ["not", "an", "object"],
    "a string",
    {"event": {"unhashable": True}},
    {"event": "message_end", "metadata": {"usage": {"total_price": [1], "total_tokens": {"x": 1}}}},
]


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html"])
def test_hostile_events_never_break_a_stream(plugin, apps, fmt):
    apps.script = HOSTILE_EVENTS
    response = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi&format={fmt}")
    text = response.read().decode("utf-8")
    assert response.status == 200 and response.error is None
    assert_no_internals(text)
    if fmt == "html":
        assert text.rstrip().endswith("</html>")
        assert 'href="//' not in text and 'href="/\\' not in text and 'href="http://[::1' not in text


# -- 4. what the SDK's own parser refuses ----------------------------------------------------------------------


def raw(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


@pytest.mark.parametrize(
    "request_bytes",
    [
        raw(f"GET /chat/{CHAT_APP}?query=hi HTTP/1.1\nHost: x\nX_Under: 1\n"),
        raw(f"GET /chat/{CHAT_APP}?query=hi HTTP/1.1\nHost: x\nX-Bytes: \xff\xfe\n"),
        raw(f"GET /chat/{CHAT_APP}?query=hi HTTP/1.1\nHost: x\nX-Nul: a\x00b\n"),
        raw(
            f"POST /chat/{CHAT_APP} HTTP/1.1\nHost: x\nContent-Type: application/json\n"
            "Content-Type: text/plain\nContent-Length: 2\n",
            b"{}",
        ),
        raw(f"POST /chat/{CHAT_APP} HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: two\n", b"{}"),
        raw(f"GET /chat/{CHAT_APP}?query=hi HTTP/1.1\nHost: x\nAuthorization Bearer sk-secret-value\n"),
    ],
    ids=["underscore", "not-utf8", "nul", "duplicate-content-type", "bad-content-length", "bad-authorization"],
)
def test_requests_the_sdk_cannot_parse_get_a_400_without_a_traceback(plugin, request_bytes):
    response = plugin.send_raw(request_bytes)
    status, code, message = error_of(response)
    assert (status, code) == (400, "invalid_request")
    assert message.startswith("Unreadable HTTP request.")
    assert_no_internals(message)
    assert "sk-secret-value" not in message
    assert not any("sk-secret-value" in line for line in plugin.recent_logs)


# -- 5. each bad input gets the contract's status ----------------------------------------------------------------


def test_deep_json_is_400(plugin):
    body = b'{"query": "hi", "inputs": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    status, code, message = error_of(plugin.request("POST", f"/chat/{CHAT_APP}", headers=JSON, body=body))
    assert (status, code) == (400, "invalid_request")
    assert "deep" in message


def test_deeply_nested_inputs_are_400(plugin, apps):
    before = len(apps.calls)
    body = b'{"query": "hi", "inputs": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}"
    status, code, message = error_of(plugin.request("POST", f"/chat/{CHAT_APP}", headers=JSON, body=body))
    assert (status, code) == (400, "invalid_request")
    assert "32 levels" in message
    assert len(apps.calls) == before


def test_a_lone_surrogate_is_400(plugin):
    body = b'{"query": "hi \\ud800", "inputs": {}}'
    status, code, message = error_of(plugin.request("POST", f"/chat/{CHAT_APP}", headers=JSON, body=body))
    assert (status, code) == (400, "invalid_request")
    assert "Unicode" in message


def multipart(parts: list[tuple[str, bytes]]) -> tuple[dict[str, str], bytes]:
    boundary = "relay-test-boundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in parts
    )
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body + f"--{boundary}--\r\n".encode()


def test_a_multipart_form_with_too_many_parts_is_413(plugin):
    headers, body = multipart([(f"inputs.f{i}", b"v") for i in range(1001)])
    assert error_of(plugin.request("POST", f"/chat/{CHAT_APP}", headers=headers, body=body))[:2] == (
        413,
        "payload_too_large",
    )


def test_a_large_multipart_field_is_accepted(plugin, apps):
    headers, body = multipart([("query", b"hi"), ("inputs.text", b"z" * 600_000)])
    response = plugin.request("POST", f"/chat/{CHAT_APP}", headers=headers, body=body)
    assert response.status == 200
    response.read()
    assert apps.calls[-1]["inputs"]["text"] == "z" * 600_000


def test_a_form_that_is_not_utf8_is_400(plugin):
    response = plugin.request("POST", f"/chat/{CHAT_APP}", headers=FORM, body=b"query=%ff%fe")
    assert error_of(response)[:2] == (400, "invalid_request")


# -- 6. the plugin log keeps the details -------------------------------------------------------------------------


def test_a_fault_is_logged_with_its_type_and_traceback_but_never_shown(plugin, apps):
    apps.script = [{"event": "message", "answer": "a"}, 42]  # the SDK cannot read a number as an event
    response = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi")
    events = response.lines()
    assert events[-1]["event"] == "error"
    assert_no_internals(json.dumps(events))
    logged = "\n".join(plugin.recent_logs)
    assert "Traceback (most recent call last)" in logged
    assert "Error" in logged.split("Traceback (most recent call last)", 1)[1]


# -- 7. a stream Dify cuts short says so ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html"])
def test_a_stream_without_its_final_event_ends_with_stream_truncated(plugin, apps, fmt):
    apps.script = [{"event": "message", "answer": "half an ans", "conversation_id": "c", "message_id": "m"}]
    text = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi&format={fmt}").text()
    if fmt == "html":
        assert 'role="alert"' in text and "final event" in text and "Done." not in text
    else:
        last = json.loads(text.strip().splitlines()[-1].removeprefix("data: "))
        assert last["event"] == "error" and last["code"] == "stream_truncated"


def test_a_paused_workflow_is_not_truncated(plugin, apps):
    apps.script = [{"event": "workflow_started", "data": {}}, {"event": "workflow_paused", "data": {}}]
    events = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi").lines()
    assert [event["event"] for event in events] == ["workflow_started", "workflow_paused"]


# -- 8. the small ones ---------------------------------------------------------------------------------------------


def test_an_app_id_with_a_trailing_newline_is_404_without_calling_dify(plugin, apps):
    before = len(apps.calls)
    response = plugin.send_raw(raw(f"GET /chat/{CHAT_APP}%0A?query=hi HTTP/1.1\nHost: x\n"))
    status, code, message = error_of(response)
    assert (status, code) == (404, "app_not_found")
    assert "is neither a Dify app id" in message
    assert len(apps.calls) == before


def test_pages_cannot_be_framed_and_key_pages_are_not_stored(plugin):
    settings = {"api_key": "k-7"}
    page = plugin.request(
        "POST", f"/chat/{CHAT_APP}", headers={**FORM, "Accept": "text/html"}, body=b"api_key=k-7", settings=settings
    )
    assert page.status == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    answer = plugin.request(
        "POST", f"/chat/{CHAT_APP}?format=html", headers=FORM, body=b"api_key=k-7&query=hi", settings=settings
    )
    assert answer.headers["Cache-Control"] == "no-store"
    answer.read()


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "json"])
def test_every_answer_says_nosniff(plugin, fmt):
    path = f"/workflow/{WORKFLOW_APP}?inputs.topic=tea&format={fmt}"
    response = plugin.request("GET", path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.read()
    assert plugin.request("GET", "/chat/nope").headers["X-Content-Type-Options"] == "nosniff"


def test_vary_origin_whenever_origins_are_configured(plugin):
    settings = {"cors_allowed_origins": "https://a.example"}
    refused = plugin.request(
        "GET", f"/chat/{CHAT_APP}?query=hi", headers={"Origin": "https://b.example"}, settings=settings
    )
    assert refused.headers["Vary"] == "Origin, Accept, Accept-Language"
    assert "Access-Control-Allow-Origin" not in refused.headers
    refused.read()
