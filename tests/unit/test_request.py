"""Request parsing: where fields come from, how they are validated, how the output format is chosen."""

import json

import pytest

from relay.core.apps import CHAT, COMPLETION, WORKFLOW
from relay.core.calls import ResponseMode
from relay.core.errors import RelayError
from relay.core.http import check_body_size
from relay.core.limits import MAX_BODY_BYTES
from relay.native.request import Format, choose_format, parse_call, read_fields
from tests.unit.conftest import APP_ID, make_request

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ({"format": "sse"}, "application/json", Format.SSE),
        ({"format": "HTML"}, None, Format.HTML),
        ({}, "text/event-stream", Format.SSE),
        ({}, "application/x-ndjson", Format.NDJSON),
        ({}, "application/json", Format.JSON),
        ({}, BROWSER_ACCEPT, Format.HTML),
        ({}, "*/*", Format.NDJSON),
        ({}, None, Format.NDJSON),
        ({}, "image/png", Format.NDJSON),
        ({}, "application/json;q=0.5, text/event-stream;q=0.9", Format.SSE),
    ],
)
def test_format_comes_from_query_then_accept_then_ndjson(query, accept, expected):
    request = make_request(query=query, headers={"Accept": accept} if accept else None)
    assert choose_format(request) is expected


def test_unknown_format_is_a_400():
    with pytest.raises(RelayError) as caught:
        choose_format(make_request(query={"format": "xml"}))
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")
    assert "xml" in caught.value.message


def test_json_body_fields():
    request = make_request(method="POST", json={"query": "hi", "inputs": {"n": 3}, "user": "u-1"})
    fields = read_fields(request)
    call = parse_call(fields, APP_ID, CHAT, Format.NDJSON)
    assert (call.query, call.inputs, call.user) == ("hi", {"n": 3}, "u-1")
    assert call.response_mode is ResponseMode.STREAMING


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"{not json", b"\xff\xfe"])
def test_a_json_body_must_be_an_object(body):
    request = make_request(method="POST", data=body, content_type="application/json")
    with pytest.raises(RelayError) as caught:
        read_fields(request)
    assert caught.value.status == 400


def test_form_body_inputs_object_and_dotted_inputs():
    request = make_request(
        method="POST",
        data={"query": "hi", "inputs": json.dumps({"a": "1", "b": "2"}), "inputs.b": "two", "inputs.c": "3"},
    )
    call = parse_call(read_fields(request), APP_ID, CHAT, Format.HTML)
    assert call.inputs == {"a": "1", "b": "two", "c": "3"}


def test_query_string_fields_stay_strings():
    request = make_request(path=f"/workflow/{APP_ID}", query={"inputs.count": "3", "user": "ann"})
    call = parse_call(read_fields(request), APP_ID, WORKFLOW, Format.NDJSON)
    assert call.inputs == {"count": "3"}
    assert call.user == "ann"


def test_body_fields_win_over_query_string():
    request = make_request(method="POST", query={"query": "from url", "user": "u"}, json={"query": "from body"})
    fields = read_fields(request)
    assert fields["query"] == "from body"
    assert fields["user"] == "u"


def test_unsupported_content_type_is_a_400():
    request = make_request(method="POST", data=b"hello", content_type="text/plain")
    with pytest.raises(RelayError) as caught:
        read_fields(request)
    assert caught.value.status == 400
    assert "text/plain" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "kind", "needle"),
    [
        ({}, CHAT, "query is required"),
        ({"query": ""}, CHAT, "query is required"),
        ({"query": 5}, CHAT, "query must be a string"),
        ({"query": "hi", "inputs": [1]}, CHAT, "inputs"),
        ({"query": "hi", "inputs": "[1]"}, CHAT, "inputs must be a JSON object"),
        ({"query": "hi", "inputs": "{bad"}, CHAT, "inputs must be a JSON object"),
        ({"query": "hi", "user": 7}, CHAT, "user must be a string"),
        ({"query": "hi", "conversation_id": ["x"]}, CHAT, "conversation_id must be a string"),
        ({"query": "hi", "response_mode": "fast"}, CHAT, "response_mode"),
        ({"query": "hi"}, WORKFLOW, "chat apps only"),
        ({"conversation_id": "c"}, COMPLETION, "chat apps only"),
    ],
)
def test_bad_fields_are_400_with_a_clear_message(fields, kind, needle):
    with pytest.raises(RelayError) as caught:
        parse_call(fields, APP_ID, kind, Format.NDJSON)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_request"
    assert needle in caught.value.message


def test_response_mode_defaults_to_blocking_for_json_and_streaming_otherwise():
    assert parse_call({}, APP_ID, WORKFLOW, Format.JSON).response_mode is ResponseMode.BLOCKING
    assert parse_call({}, APP_ID, WORKFLOW, Format.SSE).response_mode is ResponseMode.STREAMING
    blocking_stream = parse_call({"response_mode": "blocking"}, APP_ID, WORKFLOW, Format.NDJSON)
    assert blocking_stream.response_mode is ResponseMode.BLOCKING


def test_json_output_cannot_stream():
    with pytest.raises(RelayError) as caught:
        parse_call({"response_mode": "streaming"}, APP_ID, WORKFLOW, Format.JSON)
    assert caught.value.status == 400


def test_empty_conversation_id_and_user_mean_none():
    call = parse_call({"query": "hi", "conversation_id": "", "user": ""}, APP_ID, CHAT, Format.NDJSON)
    assert call.conversation_id is None
    assert call.user is None


def test_bodies_over_8_mib_are_refused():
    check_body_size(make_request(method="POST", data=b"x" * MAX_BODY_BYTES, content_type="application/json"))
    with pytest.raises(RelayError) as caught:
        check_body_size(make_request(method="POST", data=b"x" * (MAX_BODY_BYTES + 1), content_type="application/json"))
    assert (caught.value.status, caught.value.code) == (413, "payload_too_large")


def test_the_daemons_empty_chunked_body_is_no_body():
    # An empty POST reaches the plugin as the chunked terminator alone (see relay/request.py).
    request = make_request(method="POST", query={"query": "hi"}, data=b"0\r\n\r\n")
    call = parse_call(read_fields(request), APP_ID, CHAT, Format.NDJSON)
    assert call.query == "hi"
    form = make_request(
        method="POST", query={"query": "hi"}, data=b"0\r\n\r\n", content_type="application/x-www-form-urlencoded"
    )
    assert read_fields(form) == {"query": "hi"}
