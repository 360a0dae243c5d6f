"""The Dify call: which invocation, which arguments, and the status chosen from the first event."""

import threading

import pytest

from relay.core.apps import CHAT, COMPLETION, WORKFLOW
from relay.core.calls import AppCall, ResponseMode
from relay.core.dify import Dify
from relay.core.errors import GENERIC_FAILURE, RelayError
from relay.core.invoke import start_invocation
from tests.unit.conftest import APP_ID, CHAT_EVENTS, FakeSession, failing, stream_of

CONVERSATION = "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a"
CONTINUED = tuple({**event, "conversation_id": CONVERSATION} for event in CHAT_EVENTS)


def test_chat_call_carries_query_and_conversation():
    session = FakeSession(stream_of(*CONTINUED))
    call = AppCall(
        app_id=APP_ID, query="hi", conversation_id="0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a", inputs={"a": 1}, user="u"
    )
    events = list(start_invocation(Dify(session), CHAT, call).events())
    assert events == list(CONTINUED)
    assert session.app.calls == [
        (
            "chat",
            {
                "app_id": APP_ID,
                "query": "hi",
                "conversation_id": "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a",
                "inputs": {"a": 1},
                "response_mode": "streaming",
                "user": "u",
            },
        )
    ]


@pytest.mark.parametrize("kind", [WORKFLOW, COMPLETION])
def test_workflow_and_completion_calls_take_inputs_only(kind):
    session = FakeSession(stream_of({"event": "workflow_started"}))
    start_invocation(Dify(session), kind, AppCall(app_id=APP_ID, inputs={"x": "1"}))
    assert session.app.calls == [
        (kind.name, {"app_id": APP_ID, "inputs": {"x": "1"}, "response_mode": "streaming", "user": None})
    ]


def test_blocking_result_is_the_single_event():
    result = {"event": "message", "answer": "whole"}
    session = FakeSession(stream_of(result))
    invocation = start_invocation(
        Dify(session), CHAT, AppCall(app_id=APP_ID, query="q", response_mode=ResponseMode.BLOCKING)
    )
    assert list(invocation.events()) == [result]


@pytest.mark.parametrize(
    ("raised", "status", "code", "message"),
    [
        (Exception("read app failed: request failed: app not found"), 404, "app_not_found", "app not found"),
        (Exception("read app failed: request failed: missing query"), 502, "invocation_failed", "missing query"),
        (Exception("Quota exceeded for model gpt"), 502, "invocation_failed", "Quota exceeded for model gpt"),
        (KeyError("/srv/plugin/relay/secret.py"), 502, "invocation_failed", GENERIC_FAILURE),
    ],
)
@pytest.mark.parametrize("mode", [ResponseMode.STREAMING, ResponseMode.BLOCKING])
def test_failure_before_the_first_event_becomes_a_status(raised, status, code, message, mode):
    session = FakeSession(failing(raised))
    with pytest.raises(RelayError) as caught:
        start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q", response_mode=mode))
    assert (caught.value.status, caught.value.code, caught.value.message) == (status, code, message)


def test_an_empty_stream_is_a_502():
    with pytest.raises(RelayError) as caught:
        start_invocation(Dify(FakeSession(stream_of())), WORKFLOW, AppCall(app_id=APP_ID))
    assert caught.value.status == 502


def test_failure_mid_stream_ends_with_an_error_event():
    session = FakeSession(stream_of(*CHAT_EVENTS[:2], fail_with=Exception("read app failed: model overloaded")))
    events = list(start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q")).events())
    assert events[:2] == list(CHAT_EVENTS[:2])
    assert events[2] == {"event": "error", "code": "invocation_failed", "message": "model overloaded"}


def test_internal_failure_mid_stream_hides_its_text():
    session = FakeSession(stream_of(CHAT_EVENTS[0], fail_with=RuntimeError("Traceback /srv/x.py line 3")))
    events = list(start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q")).events())
    assert events[-1]["message"] == GENERIC_FAILURE


def test_dify_error_events_are_relayed_unchanged():
    dify_error = {"event": "error", "code": "provider_quota_exceeded", "message": "quota", "status": 400}
    session = FakeSession(stream_of(CHAT_EVENTS[0], dify_error))
    events = list(start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q")).events())
    assert events[-1] == dify_error


@pytest.mark.parametrize(
    ("raised", "status", "message"),
    [
        (
            'invoke app failed: request failed with status code: 400 and respond with: {"code": "invalid_param", '
            '"message": "app not found", "status": 400}\n',
            404,
            "app not found",
        ),
        (
            'invoke app failed: request failed with status code: 400 and respond with: {"code": "invalid_param", '
            '"message": "missing query", "status": 400}',
            400,
            "missing query",
        ),
        ("invoke app failed: request failed with status code: 502 and respond with: Bad Gateway", 502, "Bad Gateway"),
    ],
)
def test_difys_refusals_over_http_are_reduced_to_its_sentence(raised, status, message):
    session = FakeSession(failing(Exception(raised)))
    with pytest.raises(RelayError) as caught:
        start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q"))
    assert (caught.value.status, caught.value.message) == (status, message)


def test_audio_after_the_final_event_is_no_truncation():
    # With text-to-speech auto-play, Dify sends the last audio and tts_message_end after message_end.
    audio = ({"event": "tts_message", "audio": "QUJD"}, {"event": "tts_message_end", "audio": ""})
    session = FakeSession(stream_of(*CHAT_EVENTS, *audio))
    events = list(start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q")).events())
    assert events == [*CHAT_EVENTS, *audio]


def test_a_stream_without_a_final_event_ends_truncated():
    session = FakeSession(stream_of(*CHAT_EVENTS[:2]))
    events = list(start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="q")).events())
    assert events[-1]["code"] == "stream_truncated"


def _gated(gate: threading.Event, *events: dict, before: BaseException | None = None):
    """A script whose stream says nothing until ``gate`` opens, then raises ``before`` or streams ``events``."""

    def script(kind, kwargs):
        def generate():
            gate.wait(5)
            if before is not None:
                raise before
            yield from events

        return generate()

    return script


def test_an_app_silent_past_the_patience_is_answered_without_its_first_event():
    gate = threading.Event()
    invocation = start_invocation(
        Dify(FakeSession(_gated(gate, *CHAT_EVENTS))), CHAT, AppCall(APP_ID, query="q"), patience=0.05
    )
    assert invocation.first is None
    batches = invocation.batches(keepalive=0.05)
    assert next(batches) == []  # still silent: a keep-alive
    gate.set()
    assert [event for batch in batches for event in batch] == list(CHAT_EVENTS)


def test_a_refusal_after_the_patience_arrives_in_the_stream():
    gate = threading.Event()
    refused = Exception("read app failed: request failed: app not found")
    session = FakeSession(_gated(gate, before=refused))
    invocation = start_invocation(Dify(session), CHAT, AppCall(APP_ID, query="q"), patience=0.01)
    gate.set()
    assert list(invocation.events()) == [{"event": "error", "code": "app_not_found", "message": "app not found"}]


def test_a_refusal_within_the_patience_is_still_a_status():
    gate = threading.Event()
    gate.set()
    session = FakeSession(_gated(gate, before=Exception("read app failed: request failed: app not found")))
    with pytest.raises(RelayError) as caught:
        start_invocation(Dify(session), CHAT, AppCall(APP_ID, query="q"), patience=5)
    assert caught.value.status == 404


def test_the_response_ends_with_a_timeout_error_before_the_daemon_cuts_it(monkeypatch):
    monkeypatch.setenv("PLUGIN_MAX_EXECUTION_TIMEOUT", "0.5")  # a margin of a tenth: the body ends at 0.45 s
    gate = threading.Event()
    invocation = start_invocation(
        Dify(FakeSession(_gated(gate, *CHAT_EVENTS))), CHAT, AppCall(APP_ID, query="q"), patience=0
    )
    batches = list(invocation.batches(keepalive=0.1))
    gate.set()
    assert batches[:-1] and all(batch == [] for batch in batches[:-1])  # keep-alives meanwhile
    (last,) = batches[-1]
    assert (
        last["code"] == "timeout" and "0.5 s" in last["message"] and "PLUGIN_MAX_EXECUTION_TIMEOUT" in last["message"]
    )


@pytest.mark.parametrize("mode", [ResponseMode.STREAMING, ResponseMode.BLOCKING])
def test_a_conversation_dify_silently_replaced_is_not_found_and_its_run_is_stopped(mode):
    closed = []

    def script(kind, kwargs):
        if kwargs["response_mode"] == "blocking":
            return CHAT_EVENTS[0]

        def generate():
            try:
                yield from CHAT_EVENTS  # a chatflow answers in a new conversation, "c1"
            finally:
                closed.append(True)

        return generate()

    call = AppCall(app_id=APP_ID, query="hi", conversation_id=CONVERSATION, response_mode=mode)
    with pytest.raises(RelayError) as refused:
        start_invocation(Dify(FakeSession(script)), CHAT, call)
    assert (refused.value.status, refused.value.code) == (404, "conversation_not_found")
    assert closed == ([True] if mode is ResponseMode.STREAMING else [])


def test_a_conversation_id_that_is_no_uuid_is_refused_before_dify_is_called():
    session = FakeSession(stream_of(*CHAT_EVENTS))
    with pytest.raises(RelayError) as refused:
        start_invocation(Dify(session), CHAT, AppCall(app_id=APP_ID, query="hi", conversation_id="conv-1"))
    assert refused.value.code == "conversation_not_found" and session.app.calls == []


def test_a_replaced_conversation_after_the_status_went_out_ends_the_stream_with_not_found():
    gate = threading.Event()
    session = FakeSession(_gated(gate, *CHAT_EVENTS, before=None))
    call = AppCall(APP_ID, query="q", conversation_id=CONVERSATION)
    invocation = start_invocation(Dify(session), CHAT, call, patience=0.01)
    assert invocation.first is None
    gate.set()
    events = list(invocation.events())
    assert events == [{"event": "error", "code": "conversation_not_found", "message": events[0]["message"]}]
