"""The whole relay in-process: request in, werkzeug Response out."""

import json

import pytest

import relay
import relay.native
from tests.unit.conftest import APP_ID, CHAT_EVENTS, FakeSession, failing, make_request, serving, stream_of

VALUES = {"app_id": APP_ID}


def answer(session, request, settings=None, kind=relay.CHAT, app_id=APP_ID):
    response = relay.native.serve(session, request, {"app_id": app_id}, serving(**(settings or {})), kind)
    return response, b"".join(response.response)


def test_streamed_response_headers_and_body(chat_session):
    response, body = answer(chat_session, make_request(query={"query": "hi"}))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-ndjson"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert [json.loads(line) for line in body.splitlines()] == list(CHAT_EVENTS)


def test_body_is_a_real_generator_so_the_sdk_streams_it(chat_session):
    import types

    response = relay.native.serve(chat_session, make_request(query={"query": "hi"}), VALUES, serving(), relay.CHAT)
    assert isinstance(response.response, types.GeneratorType)


def test_json_format_is_a_blocking_document(chat_session):
    response, body = answer(chat_session, make_request(query={"query": "hi"}, headers={"Accept": "application/json"}))
    assert response.headers["Content-Type"] == "application/json"
    assert "X-Accel-Buffering" not in response.headers
    assert json.loads(body) == CHAT_EVENTS[0]
    assert chat_session.app.calls[0][1]["response_mode"] == "blocking"


def test_html_responses_carry_security_headers(chat_session):
    response, body = answer(chat_session, make_request(query={"query": "hi", "format": "html"}))
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert body.startswith(b"<!doctype html>")
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("request_kwargs", "settings", "status", "code"),
    [
        ({"query": {"format": "yaml", "query": "hi"}}, {}, 400, "invalid_request"),
        ({"query": {}}, {}, 400, "invalid_request"),
        ({"query": {"query": "hi"}}, {"api_key": "k"}, 401, "unauthorized"),
        ({"query": {"query": "hi"}}, {"allowed_apps": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}, 403, "app_not_allowed"),
        (
            {"method": "POST", "data": b"{}" + b" " * (8 * 1024 * 1024), "content_type": "application/json"},
            {},
            413,
            "payload_too_large",
        ),
    ],
)
def test_errors_before_the_first_byte_use_the_contract_body(chat_session, request_kwargs, settings, status, code):
    response, body = answer(chat_session, make_request(**request_kwargs), settings)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == code
    assert json.loads(body)["error"]["message"]
    assert chat_session.app.calls == []  # Dify is never called for a refused request


def test_401_says_bearer(chat_session):
    response, _ = answer(chat_session, make_request(query={"query": "hi"}), {"api_key": "k"})
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_malformed_app_id_is_404_without_calling_dify(chat_session):
    response, body = answer(chat_session, make_request(query={"query": "hi"}), app_id="not-an-app")
    assert response.status_code == 404
    assert json.loads(body)["error"]["code"] == "app_not_found"
    assert chat_session.app.calls == []


def test_dify_app_not_found_is_404_with_difys_message():
    session = FakeSession(failing(Exception("read app failed: request failed: app not found")))
    response, body = answer(session, make_request(query={"query": "hi"}))
    assert response.status_code == 404
    assert json.loads(body) == {"error": {"code": "app_not_found", "message": "app not found"}}


def test_html_errors_are_pages_with_the_same_status():
    session = FakeSession(failing(Exception("invoke app failed: <script>x</script>")))
    response, body = answer(session, make_request(query={"query": "hi", "format": "html"}))
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<script>x" not in body and b"&lt;script&gt;x" in body
    assert b"invocation_failed" in body
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_unexpected_bug_is_a_500_without_traceback():
    def broken(kind, kwargs):
        raise AssertionError("secret internals at /srv/relay/x.py")

    # An AssertionError escaping the SDK call path is still turned into a response, never a traceback.
    response, body = answer(FakeSession(broken), make_request(query={"query": "hi"}))
    assert response.status_code == 502
    assert b"/srv/" not in body and b"Traceback" not in body


def test_preflight_needs_no_key_and_gets_cors(chat_session):
    request = make_request(
        method="OPTIONS", headers={"Origin": "https://web.example", "Access-Control-Request-Method": "POST"}
    )
    response, _ = answer(chat_session, request, {"api_key": "k", "cors_allowed_origins": "https://web.example"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://web.example"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"


def test_cors_headers_on_answers_and_errors(chat_session):
    settings = {"cors_allowed_origins": "https://web.example", "api_key": "k"}
    origin = {"Origin": "https://web.example"}
    denied, _ = answer(chat_session, make_request(query={"query": "hi"}, headers=origin), settings)
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == "https://web.example"
    ok, _ = answer(chat_session, make_request(query={"query": "hi"}, headers=origin | {"X-API-Key": "k"}), settings)
    assert ok.status_code == 200
    assert ok.headers["Vary"] == "Origin, Accept, Accept-Language"


def test_the_answer_says_it_depends_on_accept_and_the_language(chat_session):
    response, _ = answer(chat_session, make_request(query={"query": "hi"}))
    assert response.headers["Vary"] == "Accept, Accept-Language"


def test_blocking_mode_in_a_streaming_format_is_one_event():
    session = FakeSession(stream_of({"event": "message", "answer": "all at once"}))
    response, body = answer(session, make_request(query={"query": "hi", "response_mode": "blocking", "format": "sse"}))
    assert response.headers["Content-Type"] == "text/event-stream"
    assert body == b'data: {"event":"message","answer":"all at once"}\n\n'
