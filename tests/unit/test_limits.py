"""The relay's bounds (``relay.core.limits``) and its guards, in-process: nothing a client or Dify sends can make an
answer grow without limit, escape as an exception, or cost much before the caller is known."""

import json
from collections.abc import Generator

import pytest

from relay.core.apps import CHAT
from relay.core.calls import AppCall, check_call_size
from relay.core.dify import Dify
from relay.core.errors import RelayError, shown
from relay.core.invoke import start_invocation
from relay.core.limits import MAX_CALL_BYTES, MAX_ECHO_CHARS, MAX_FORM_FIELDS, MAX_INPUT_DEPTH
from relay.core.wire import json_bytes as encode_event
from relay.native import serve as relay_request
from relay.native.formats import MAX_CHUNK_BYTES, PageInfo, render
from relay.native.formats.html.values import safe_url as _safe_url
from relay.native.request import Format, read_fields
from tests.unit.conftest import APP_ID, CHAT_EVENTS, FakeSession, make_request, serving, stream_of


def refusal(call) -> RelayError:
    with pytest.raises(RelayError) as caught:
        call()
    return caught.value


def test_an_echoed_value_is_cut():
    assert shown("short") == "'short'"
    long = shown("x" * 10_000)
    assert len(long) == MAX_ECHO_CHARS and long.endswith("…")


@pytest.mark.parametrize(
    ("inputs", "status", "needle"),
    [
        ({"a": "\ud800"}, 400, "Unicode"),
        ({"\udfff": "key"}, 400, "Unicode"),
        ({"a": json.loads("[" * (MAX_INPUT_DEPTH + 1) + "]" * (MAX_INPUT_DEPTH + 1))}, 400, "levels"),
        ({"a": "y" * (MAX_CALL_BYTES + 1)}, 413, "KiB"),
        ({"a": "\x01" * (MAX_CALL_BYTES // 6 + 1)}, 413, "control characters"),
    ],
)
def test_an_app_call_the_sdk_could_not_send_is_refused(inputs, status, needle):
    error = refusal(lambda: check_call_size(AppCall(app_id=APP_ID, inputs=inputs, query="q")))
    assert error.status == status and needle in error.message


def test_an_app_call_at_the_limits_passes():
    nested = json.loads("[" * (MAX_INPUT_DEPTH - 1) + "]" * (MAX_INPUT_DEPTH - 1))
    check_call_size(AppCall(app_id=APP_ID, inputs={"a": nested, "b": "é" * 1000}, query="q"))


def test_deep_json_is_a_400_not_a_recursion_error():
    body = b"[" * 100_000 + b"]" * 100_000
    error = refusal(lambda: read_fields(make_request(method="POST", data=body, content_type="application/json")))
    assert error.status == 400 and "deep" in error.message


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None])
def test_too_many_fields_are_a_413_before_any_is_decoded(content_type):
    pairs = "&".join(f"f{i}=%41" for i in range(MAX_FORM_FIELDS + 1))
    if content_type:
        request = make_request(method="POST", data=pairs, content_type=content_type)
    else:
        request = make_request(path=f"/chat/{APP_ID}?{pairs}")
    error = refusal(lambda: read_fields(request))
    assert (error.status, error.code) == (413, "payload_too_large")


def test_a_multipart_field_may_be_large_but_parts_are_few():
    multipart = "multipart/form-data"
    big = make_request(method="POST", data={"query": "hi", "inputs.t": "z" * 600_000}, content_type=multipart)
    assert big.mimetype == multipart
    assert read_fields(big)["inputs.t"] == "z" * 600_000
    many = make_request(method="POST", data={f"f{i}": "v" for i in range(MAX_FORM_FIELDS + 1)}, content_type=multipart)
    assert refusal(lambda: read_fields(many)).status == 413


def test_an_event_with_a_lone_surrogate_is_still_one_json_line():
    line = encode_event({"event": "message", "answer": "\ud800"})
    assert json.loads(line) == {"event": "message", "answer": "\ud800"}
    assert b"\n" not in line


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://files.example/a.png", True),
        ("/files/a.png", True),
        ("//evil.example/a.png", False),
        ("/\\evil.example/a.png", False),
        ("javascript:alert(1)", False),
        ("http://[::1", False),
        (42, False),
    ],
)
def test_only_same_site_and_web_links_are_kept(url, kept):
    assert (_safe_url(url) == url) is kept


def page_of(events) -> str:
    return b"".join(render(Format.HTML, iter(events), PageInfo(CHAT, APP_ID, "q"))).decode()


def test_odd_event_values_never_break_the_page():
    text = page_of(
        [
            {"event": "message", "answer": "a", "metadata": {"usage": ["x"]}},
            {"event": "node_finished", "data": {"elapsed_time": 10**400}},
            {"event": "workflow_finished", "data": {"elapsed_time": float("inf"), "outputs": [1]}},
            ["not", "an", "event"],
            {"event": {"unhashable": 1}},
        ]
    )
    assert text.rstrip().endswith("</html>") and "Done." in text


@pytest.mark.parametrize("output", [Format.NDJSON, Format.SSE, Format.HTML])
def test_a_renderer_fault_ends_the_stream_with_the_contract_error(output):
    def events():
        yield {"event": "message", "answer": "a"}
        raise RuntimeError("/srv/secret/path.py exploded")

    body = b"".join(render(output, events(), PageInfo(CHAT, APP_ID, "q"))).decode()
    assert "secret" not in body and "Traceback" not in body
    assert "see the plugin log" in body
    if output is Format.HTML:
        assert body.rstrip().endswith("</html>") and "Done." not in body


def test_a_stream_without_a_final_event_ends_with_stream_truncated():
    session = FakeSession(stream_of(*CHAT_EVENTS[:2]))
    events = list(start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q")).events())
    assert events[-1]["code"] == "stream_truncated"
    whole = FakeSession(stream_of(*CHAT_EVENTS))
    assert list(start_invocation(Dify(whole), CHAT, AppCall(app_id=APP_ID, query="q")).events()) == list(CHAT_EVENTS)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_every_body_is_a_generator_of_small_slices(accept):
    session = FakeSession(stream_of(*CHAT_EVENTS), parameters={"opening_statement": "<" * 1_000_000})
    for request in (
        make_request(headers={"Accept": accept}),  # the form page, or a 400
        make_request(query={"query": "q", "format": "x" * 1_000_000}, headers={"Accept": accept}),
    ):
        response = relay_request(session, request, {"app_id": APP_ID}, serving(), CHAT)
        assert isinstance(response.response, Generator)
        assert all(len(chunk) <= MAX_CHUNK_BYTES for chunk in response.response)


def test_a_header_key_is_checked_before_the_body_is_parsed():
    request = make_request(
        method="POST",
        data="&".join(["f=1"] * 100_000),
        content_type="application/x-www-form-urlencoded",
        headers={"X-API-Key": "wrong"},
    )
    response = relay_request(
        FakeSession(stream_of(*CHAT_EVENTS)), request, {"app_id": APP_ID}, serving(api_key="k"), CHAT
    )
    assert response.status_code == 401
    assert "relay.form_fields" not in request.environ
