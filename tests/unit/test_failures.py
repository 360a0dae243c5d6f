"""What a failed Dify call tells the client, from the exact texts the SDK raises (see relay/core/failures.py)."""

import json

import pytest

from relay.core.apps import CHAT, COMPLETION
from relay.core.errors import GENERIC_FAILURE, RelayError
from relay.core.failures import UNREACHABLE, read_failure, refusal, stream_error
from relay.native.handler import _advised
from relay.native.request import Format
from tests.unit.conftest import APP_ID


def dify_answer(status: int, body: str) -> Exception:
    return Exception(f"invoke app failed: request failed with status code: {status} and respond with: {body}\n")


def test_dify_json_answers_give_their_sentence_code_and_status():
    failure = read_failure(dify_answer(400, '{"code": "invalid_param", "message": "missing query", "status": 400}'))
    assert (failure.message, failure.code, failure.status) == ("missing query", "invalid_param", 400)


def test_fetch_apps_data_is_nil_means_no_such_app():
    error = refusal(Exception("fetch app failed: data is nil"), app_id=APP_ID, fetching=True)
    assert (error.status, error.code) == (404, "app_not_found")
    assert APP_ID in error.message


def test_data_is_nil_from_an_app_call_is_no_verdict_on_the_app():
    # The daemon says "data is nil" for any answer without data, e.g. an in-stream error with an empty message.
    error = refusal(Exception("read app failed: data is nil"), app_id=APP_ID)
    assert (error.status, error.code) == (502, "invocation_failed")


def test_an_empty_invalid_param_with_a_conversation_is_conversation_not_found():
    raised = dify_answer(400, '{"code": "invalid_param", "message": "", "status": 400}')
    error = refusal(raised, app_id=APP_ID, conversation_id="c-404")
    assert (error.status, error.code) == (404, "conversation_not_found")
    assert "'c-404'" in error.message and "leave conversation_id out" in error.message
    assert refusal(raised, app_id=APP_ID).status == 502  # without a conversation, nothing to blame


def test_blocking_mode_hides_model_errors_and_the_message_says_so():
    raised = dify_answer(500, '{"message": "Internal Server Error", "code": "unknown", "status": 500}')
    error = refusal(raised, app_id=APP_ID, blocking=True)
    assert (error.status, error.code, error.reason) == (502, "invocation_failed", "blocking_hides_error")
    assert "blocking mode" in error.message
    assert "response_mode=streaming" in _advised(error, CHAT, Format.JSON)[0].message  # the native surface's advice


def test_an_agent_refusing_blocking_mode_is_told_what_to_do():
    raised = dify_answer(
        400, '{"code": "invalid_param", "message": "Agent Chat App does not support blocking mode", "status": 400}'
    )
    error = refusal(raised, app_id=APP_ID, blocking=True)
    assert error.reason == "blocking_unsupported"
    assert "Use response_mode=streaming" in _advised(error, CHAT, Format.JSON)[0].message


@pytest.mark.parametrize(
    "raised",
    [
        'invoke app failed: Post "http://api:5001/inner/api/invoke/app": dial tcp 172.18.0.5:5001: connect: '
        "connection refused",
        "read app failed: read tcp 10.0.0.2:41234->10.0.0.3:5001: read: connection reset by peer",
        "invoke app failed: request failed: Get http://internal-host/x",
    ],
)
def test_network_errors_never_show_internal_hosts(raised):
    error = refusal(Exception(raised), app_id=APP_ID)
    assert error.message == UNREACHABLE
    assert stream_error(Exception(raised))["message"] == UNREACHABLE


def test_the_sdks_silence_limit_ends_the_stream_naming_it():
    event = stream_error(Exception("invocation exited without response after 250 seconds"))
    assert event["code"] == "timeout" and "250 s" in event["message"]


def test_the_daemons_app_call_limit_ends_the_stream_naming_it():
    raised = (
        "read app failed: read tcp 172.18.0.7:51234->172.18.0.5:5001: use of closed network connection\n"
        "failed to read system header"
    )
    event = stream_error(Exception(raised))
    assert event["code"] == "timeout" and "240 s" in event["message"]
    assert "172.18" not in event["message"]


def test_faults_of_the_plugin_itself_stay_in_the_log():
    error = refusal(KeyError("/srv/plugin/secret.py"), app_id=APP_ID)
    assert isinstance(error, RelayError) and error.message == GENERIC_FAILURE


@pytest.mark.parametrize(
    ("phase", "named"),
    [("first_response", "its first answer"), ("read_idle", "silence"), ("total", "one app call")],
)
def test_a_newer_daemons_stream_timeout_is_named(phase, named):
    raised = Exception(f"read app failed: stream invocation timed out (phase={phase}, timeout_ms=240000)")
    event = stream_error(raised)
    assert event["code"] == "timeout"
    assert named in event["message"] and "240 s" in event["message"]


@pytest.mark.parametrize(
    ("message", "status", "code", "retry"),
    [
        ("(type 'text-input') topic in input form must be a string", 400, "invalid_input", "false"),
        ("topic is required in input form", 400, "invalid_input", "false"),
        ("missing query", 400, "invalid_input", "false"),
        ("Agent Chat App does not support blocking mode", 400, "invalid_input", "false"),
        ("Reached maximum retries (3) for URL https://files.example/a.pdf", 400, "invalid_input", "false"),
        ("Provider openai does not exist.", 502, "invocation_failed", "false"),
        ("Run failed: the code node broke", 502, "invocation_failed", "false"),
    ],
)
def test_difys_refusals_before_the_run_are_the_callers_when_the_caller_can_fix_them(message, status, code, retry):
    body = json.dumps({"code": "invalid_param", "message": message, "status": 400})
    error = refusal(dify_answer(400, body), app_id=APP_ID)
    assert (error.status, error.code, error.message) == (status, code, message)
    assert error.headers.get("x-should-retry") == retry


def test_only_the_network_and_time_limits_invite_a_retry():
    unreachable = refusal(
        Exception('invoke app failed: Post "http://api:5001/x": dial tcp: i/o timeout'), app_id=APP_ID
    )
    assert unreachable.status == 502 and "x-should-retry" not in unreachable.headers
    generic = refusal(
        dify_answer(500, '{"message": "Internal Server Error", "code": "unknown", "status": 500}'), app_id=APP_ID
    )
    assert generic.headers.get("x-should-retry") == "false"


def test_an_app_type_dify_does_not_dispatch_to_plugins_says_so():
    body = json.dumps({"code": "invalid_param", "message": "unexpected app type", "status": 400})
    error = refusal(dify_answer(400, body), app_id=APP_ID)
    assert (error.status, error.code) == (502, "app_type_unsupported")
    assert "Agent apps" in error.message and error.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("blocking", [True, False])
def test_a_completion_app_that_dify_cannot_run_for_a_plugin_says_what_works_instead(blocking):
    raised = dify_answer(500, '{"message": "Internal Server Error", "code": "unknown", "status": 500}')
    error = refusal(raised, app_id=APP_ID, blocking=blocking, kind=COMPLETION)
    assert (error.status, error.code, error.reason) == (502, "app_type_unsupported", "completion_unsupported")
    assert "workflow app" in error.message and "response_mode" not in error.message
    assert error.headers["x-should-retry"] == "false"
    advised, _ = _advised(error, COMPLETION, Format.JSON)
    assert "response_mode" not in advised.message
