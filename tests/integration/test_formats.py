"""Every endpoint in every format, through the real plugin process."""

import json

import pytest

from tests.integration.apps import (
    CHAT_APP,
    COMPLETION_APP,
    WORKFLOW_APP,
    chat_events,
    completion_events,
    workflow_blocking,
    workflow_events,
)

CASES = {
    "chat": (f"/chat/{CHAT_APP}", {"query": "hello", "inputs": {"name": "Ann"}}),
    "workflow": (f"/workflow/{WORKFLOW_APP}", {"inputs": {"topic": "tea"}}),
    "completion": (f"/completion/{COMPLETION_APP}", {"inputs": {"topic": "tea"}}),
}


def expected_events(kind: str, fields: dict) -> list[dict]:
    request = {"query": fields.get("query"), "inputs": fields.get("inputs", {})}
    return {"chat": chat_events, "workflow": workflow_events, "completion": completion_events}[kind](request)


def post_json(plugin, path, fields, **headers):
    return plugin.request(
        "POST", path, headers={"Content-Type": "application/json", **headers}, body=json.dumps(fields).encode()
    )


@pytest.mark.parametrize("kind", CASES)
def test_ndjson_streams_whole_events(plugin, kind):
    path, fields = CASES[kind]
    response = post_json(plugin, path, fields)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-ndjson"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    chunks = list(response.chunks())
    events = [json.loads(line) for line in b"".join(chunks).splitlines()]
    assert events == expected_events(kind, fields)
    # Events that were waiting together may share a chunk, but a chunk never ends mid-event; that each event goes
    # out as it arrives is shown with an app that pauses (test_errors, test_streaming).
    assert all(chunk.endswith(b"\n") for chunk in chunks)
    assert response.error is None


@pytest.mark.parametrize("kind", CASES)
def test_sse_uses_data_frames(plugin, kind):
    path, fields = CASES[kind]
    response = post_json(plugin, path, fields, Accept="text/event-stream")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    frames = response.read().decode().split("\n\n")
    assert frames[-1] == ""
    assert [json.loads(frame.removeprefix("data: ")) for frame in frames[:-1]] == expected_events(kind, fields)


@pytest.mark.parametrize("kind", CASES)
def test_html_page_grows_with_the_events(plugin, kind):
    path, fields = CASES[kind]
    response = post_json(plugin, path, fields, Accept="text/html")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    chunks = list(response.chunks())
    page = b"".join(chunks).decode()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert len(chunks) >= 3  # the head goes out before the app answers, the tail after it
    shown = {"chat": "You said ", "workflow": "streamed text", "completion": "Completed"}[kind]
    assert shown in page


@pytest.mark.parametrize("kind", CASES)
def test_json_is_the_blocking_result(plugin, kind):
    path, fields = CASES[kind]
    response = post_json(plugin, path, fields, Accept="application/json")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    result = response.json()
    if kind == "workflow":
        assert result == workflow_blocking({"inputs": fields["inputs"]})
    else:
        assert result["event"] == "message"
        assert result["answer"] == "".join(e.get("answer", "") for e in expected_events(kind, fields))


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize(
    ("accept", "frame", "end"), [("application/x-ndjson", b"{", b"\n"), ("text/event-stream", b"data: {", b"\n\n")]
)
def test_blocking_mode_in_a_streaming_format_is_one_event(plugin, kind, accept, frame, end):
    path, fields = CASES[kind]
    response = post_json(plugin, path, {**fields, "response_mode": "blocking"}, Accept=accept)
    assert response.status == 200
    body = response.read()
    assert body.startswith(frame) and body.endswith(end) and body.count(end) == 1
    event = json.loads(body.removeprefix(b"data: "))
    if kind == "workflow":
        assert event == workflow_blocking({"inputs": fields["inputs"]})
    else:
        assert event["answer"] == "".join(e.get("answer", "") for e in expected_events(kind, fields))


def test_get_query_string_and_format_parameter(plugin):
    response = plugin.request(
        "GET",
        f"/completion/{COMPLETION_APP}?format=sse&inputs.topic=tea&inputs=%7B%22n%22%3A1%7D",
        headers={"Accept": "application/json"},
    )
    assert response.headers["Content-Type"] == "text/event-stream"
    assert "[('n', 1), ('topic', 'tea')]" in response.text().replace("\\u0027", "'")


def test_form_post_fields(plugin, apps):
    response = plugin.request(
        "POST",
        f"/chat/{CHAT_APP}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"query=hi+there&inputs.name=Bo&conversation_id=0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c69&user=u-7",
    )
    assert response.status == 200
    events = response.lines()
    assert events[0]["conversation_id"] == "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c69"
    call = apps.calls[-1]
    assert (call["query"], call["inputs"], call["conversation_id"], call["user"]) == (
        "hi there",
        {"name": "Bo"},
        "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c69",
        "u-7",
    )


def test_head_gets_the_headers_of_a_get_without_running_the_app(plugin, apps):
    before = len(apps.calls)
    response = plugin.request("HEAD", f"/chat/{CHAT_APP}?query=hi")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-ndjson"
    assert response.read() == b""
    assert len(apps.calls) == before
    assert plugin.request("HEAD", f"/chat/{CHAT_APP}").status == 400  # the checks still apply


def test_browser_get_without_query_shows_the_form(plugin):
    response = plugin.request("GET", f"/chat/{CHAT_APP}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status == 200
    page = response.text()
    assert "Hello from the scripted chat app." in page
    assert 'name="inputs.name"' in page and 'name="query"' in page


def test_an_empty_post_reads_the_query_string(plugin):
    # Dify's daemon forwards an empty POST body chunked; the relay must read it as no body at all.
    response = plugin.request("POST", f"/chat/{CHAT_APP}?query=hi")
    assert response.status == 200
    assert response.lines()[1]["answer"] == "hi"


@pytest.mark.parametrize("fmt", ["ndjson", "sse"])
def test_a_browser_that_opens_a_stream_link_sees_it_as_text(plugin, fmt):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    response = plugin.request("GET", f"/chat/{CHAT_APP}?query=hi&format={fmt}", headers=browser)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    as_text = response.read()
    as_api = plugin.request("GET", f"/chat/{CHAT_APP}?query=hi&format={fmt}", headers={"Accept": "*/*"})
    assert as_api.headers["Content-Type"] != "text/plain; charset=utf-8"
    assert as_api.read() == as_text  # the same bytes, only labelled so that the browser shows them
