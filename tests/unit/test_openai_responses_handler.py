"""``/v1/responses`` in-process: which model, which conversation, which status before any byte is sent, and what
``GET /v1/responses/{id}`` finds; every refusal in OpenAI's error shape."""

import json

import pytest

import relay.openai_responses
from tests.unit.conftest import APP_ID, FakeSession, FakeStorage, make_request, stream_of

WORKFLOW_APP = "0d4b5c6e-7f80-4c1e-9a2f-6f1c2a9e3b7d"
CONVERSATION = "7f80aaaa-3b7d-4c1e-9a2f-0d4b5c6e7f80"
SETTINGS = {"allowed_apps": f"support={APP_ID}, workflow:outline={WORKFLOW_APP}", "api_key": "alice, bob"}
ANSWER = (
    {"event": "message", "answer": "Hi", "conversation_id": CONVERSATION, "message_id": "m1"},
    {"event": "message_end", "conversation_id": CONVERSATION, "message_id": "m1", "metadata": {}},
)
TOPIC_FORM = {"user_input_form": [{"text-input": {"variable": "topic", "required": True}}]}


def post(session, body, key="alice", settings=SETTINGS):
    request = make_request("/v1/responses", "POST", json=body, headers={"Authorization": f"Bearer {key}"})
    return relay.openai_responses.serve(session, request, {}, settings)


def get(session, response_id, key="alice"):
    request = make_request(f"/v1/responses/{response_id}", "GET", headers={"Authorization": f"Bearer {key}"})
    return relay.openai_responses.serve(session, request, {"response_id": response_id}, SETTINGS)


def document(response) -> dict:
    return json.loads(response.get_data())


def invoked(session):
    return [kwargs for kind, kwargs in session.ran()]


def test_a_second_turn_by_previous_response_id_continues_the_conversation_for_its_own_key_only():
    session = FakeSession(stream_of(*ANSWER))
    first = document(post(session, {"model": "support", "input": "one"}))
    assert first["status"] == "completed" and first["output"][0]["content"][0]["text"] == "Hi"
    second = post(session, {"model": "support", "input": "two", "previous_response_id": first["id"]})
    assert second.status_code == 200 and document(second)["previous_response_id"] == first["id"]
    assert invoked(session)[-1]["conversation_id"] == CONVERSATION and invoked(session)[-1]["query"] == "two"
    stolen = post(session, {"model": "support", "input": "three", "previous_response_id": first["id"]}, key="bob")
    assert stolen.status_code == 400
    assert document(stolen)["error"]["code"] == "previous_response_not_found"
    assert document(stolen)["error"]["param"] == "previous_response_id"
    assert len(invoked(session)) == 2  # the app never ran for bob


def test_a_previous_response_of_another_model_is_refused_before_the_app_runs():
    session = FakeSession(stream_of(*ANSWER), TOPIC_FORM)
    first = document(post(session, {"model": "support", "input": "one"}))
    refused = post(session, {"model": "outline", "input": "tea", "previous_response_id": first["id"]})
    assert refused.status_code == 400 and document(refused)["error"]["param"] == "previous_response_id"
    assert len(invoked(session)) == 1


def test_a_workflow_gets_the_message_in_its_input_and_answers_with_its_outputs():
    finished = {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {"t": "ok"}}}
    session = FakeSession(stream_of(finished), TOPIC_FORM)
    answer = document(post(session, {"model": "outline", "input": "Green tea"}))
    assert answer["output"][0]["content"][0]["text"] == "ok"
    assert invoked(session)[-1]["inputs"] == {"topic": "Green tea"}


def test_the_lost_conversation_of_a_previous_response_is_said_in_its_terms():
    session = FakeSession(stream_of(*ANSWER))
    first = document(post(session, {"model": "support", "input": "one"}))
    replaced = tuple({**event, "conversation_id": "0e2b7d38-91c4-4f0a-8c57-3a6d1e9b2f44"} for event in ANSWER)
    session.app.script = stream_of(*replaced)  # a chatflow that lost the conversation runs in a new one
    for stream in (False, True):
        lost = post(
            session, {"model": "support", "input": "two", "previous_response_id": first["id"], "stream": stream}
        )
        assert lost.status_code == 404
        error = document(lost)["error"]
        assert error["code"] == "conversation_not_found" and error["param"] == "previous_response_id"
        assert "without previous_response_id" in error["message"] and "conversation_id" not in error["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_an_app_that_fails_before_its_first_word_gets_an_error_status(stream):
    failure = {"event": "error", "code": "provider_quota_exceeded", "message": "No quota left.", "status": 400}
    response = post(FakeSession(stream_of(failure)), {"model": "support", "input": "hi", "stream": stream})
    assert response.status_code == 502 and response.mimetype == "application/json"
    assert document(response) == {
        "error": {"message": "No quota left.", "type": "server_error", "param": None, "code": "provider_quota_exceeded"}
    }
    assert response.headers["x-should-retry"] == "false"


def test_get_finds_what_its_caller_kept_and_nothing_else():
    session = FakeSession(stream_of(*ANSWER))
    kept = document(post(session, {"model": "support", "input": "one", "metadata": {"ticket": "42"}}))
    found = get(session, kept["id"])
    assert found.status_code == 200 and document(found) == kept
    assert get(session, kept["id"], key="bob").status_code == 404
    unkept = document(post(session, {"model": "support", "input": "two", "store": False}))
    missing = get(session, unkept["id"])
    assert missing.status_code == 404 and "store: false" in document(missing)["error"]["message"]
    nothing = get(session, "resp_nothing")
    assert nothing.status_code == 404 and document(nothing)["error"]["code"] == "response_not_found"


def test_a_model_the_endpoint_does_not_serve_is_404_model_not_found():
    session = FakeSession(stream_of(*ANSWER))
    response = post(session, {"model": "7f80aaaa-3b7d-4c1e-9a2f-0d4b5c6e7f81", "input": "hi"})
    assert response.status_code == 404
    assert (document(response)["error"]["code"], document(response)["error"]["param"]) == ("model_not_found", "model")
    assert session.ran() == []


@pytest.mark.parametrize(
    ("settings", "request_args", "status", "kind", "code"),
    [
        ({"allowed_apps": ""}, {"json": {"model": "x"}}, 403, "permission_error", "endpoint_not_configured"),
        (
            {"allowed_apps": "*", "api_key": "k"},
            {"json": {"model": "x"}},
            401,
            "authentication_error",
            "invalid_api_key",
        ),
        ({"allowed_apps": "*"}, {"data": b"[1]", "content_type": "application/json"}, 400, None, "invalid_request"),
        ({"allowed_apps": "*"}, {"data": b"x" * (8 * 1024 * 1024 + 1)}, 413, None, "payload_too_large"),
    ],
    ids=["closed", "no-key", "not-an-object", "too-large"],
)
def test_every_refusal_before_the_app_runs_is_an_openai_error_object(settings, request_args, status, kind, code):
    session = FakeSession(stream_of(*ANSWER), storage=FakeStorage(writable=False, readable=False))
    response = relay.openai_responses.serve(
        session, make_request("/v1/responses", "POST", **request_args), {}, settings
    )
    assert response.status_code == status and response.mimetype == "application/json"
    error = document(response)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code and error["type"] == (kind or "invalid_request_error")
    assert session.ran() == []
