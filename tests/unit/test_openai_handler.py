"""``/v1/chat/completions`` in-process: which model, which input, and which status, before any byte is sent."""

import json

import pytest

import relay.openai_compat
from tests.unit.conftest import APP_ID, FakeSession, FakeStorage, make_request, stream_of

OTHER_APP = "0d4b5c6e-7f80-4c1e-9a2f-6f1c2a9e3b7d"
QUOTA_ERROR = {"event": "error", "code": "provider_quota_exceeded", "message": "No quota left.", "status": 400}
TOPIC_FORM = {
    "user_input_form": [
        {"text-input": {"variable": "topic", "required": True}},
        {"paragraph": {"variable": "notes", "required": False}},
    ]
}


class Session(FakeSession):
    """A session whose storage remembers nothing: every history is new."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, storage=FakeStorage(writable=False, readable=False), **kwargs)


def chat_completions(session, request, settings):
    return relay.openai_compat.serve(session, request, {}, settings, relay.openai_compat.CHAT_COMPLETIONS)


def post(session, body: dict, allowed_apps: str = f"support={APP_ID}, workflow:outline={OTHER_APP}"):
    request = make_request("/v1/chat/completions", "POST", json=body)
    return chat_completions(session, request, {"allowed_apps": allowed_apps})


def error_of(response) -> dict:
    return json.loads(response.get_data())["error"]


@pytest.mark.parametrize("model", ["nobody", "7f80aaaa-3b7d-4c1e-9a2f-0d4b5c6e7f80"])
def test_a_model_the_endpoint_does_not_serve_is_404_model_not_found(model):
    session = Session(stream_of())
    response = post(session, {"model": model, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 404
    error = error_of(response)
    assert (error["code"], error["type"], error["param"]) == ("model_not_found", "invalid_request_error", "model")
    assert "/v1/models" in error["message"]
    assert session.app.calls == []


@pytest.mark.parametrize("stream", [True, False])
def test_an_app_that_fails_before_its_first_word_gets_an_error_status(stream):
    response = post(
        Session(stream_of(QUOTA_ERROR)),
        {"model": "support", "stream": stream, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 502
    assert response.mimetype == "application/json"
    assert error_of(response) == {
        "message": "No quota left.",
        "type": "server_error",
        "param": None,
        "code": "provider_quota_exceeded",
    }


def test_a_workflow_gets_the_message_in_its_only_required_text_input():
    session = Session(
        stream_of({"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {"t": "ok"}}}), TOPIC_FORM
    )
    body = {"model": "outline", "messages": [{"role": "user", "content": "Green tea"}], "inputs": {"notes": "short"}}
    response = post(session, body)
    assert response.status_code == 200
    assert json.loads(response.get_data())["choices"][0]["message"]["content"] == "ok"
    kind, call = session.app.calls[-1]
    assert kind == "workflow" and call["inputs"] == {"notes": "short", "topic": "Green tea"}


def test_images_without_text_are_refused_by_a_chat_app_and_an_app_that_requires_text():
    image = {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}
    for model in ("support", "outline"):
        session = Session(stream_of(), TOPIC_FORM)
        response = post(session, {"model": model, "messages": [{"role": "user", "content": [image]}]})
        assert response.status_code == 400 and error_of(response)["param"] == "messages"
        assert not [call for call in session.app.calls if call[0] != "fetch_app"]  # the app was not run


@pytest.mark.parametrize(
    ("settings", "request_args", "status", "kind", "code"),
    [
        ({"allowed_apps": ""}, {"json": {"model": "x"}}, 403, "permission_error", "endpoint_not_configured"),
        (
            {"allowed_apps": "support=not-an-id"},
            {"json": {"model": "x"}},
            500,
            "server_error",
            "endpoint_misconfigured",
        ),
        (
            {"allowed_apps": "*", "api_key": "k"},
            {"json": {"model": "x"}},
            401,
            "authentication_error",
            "invalid_api_key",
        ),
        (
            {"allowed_apps": "*"},
            {"data": b"{not json", "content_type": "application/json"},
            400,
            None,
            "invalid_request",
        ),
        ({"allowed_apps": "*"}, {"data": b"x" * (8 * 1024 * 1024 + 1)}, 413, None, "payload_too_large"),
    ],
    ids=["closed", "misconfigured", "no-key", "bad-json", "too-large"],
)
def test_every_refusal_before_the_app_runs_is_an_openai_error_object(settings, request_args, status, kind, code):
    session = Session(stream_of())
    response = chat_completions(session, make_request("/v1/chat/completions", "POST", **request_args), settings)
    assert response.status_code == status and response.mimetype == "application/json"
    error = error_of(response)
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code and error["type"] == (kind or "invalid_request_error")
    assert session.app.calls == []
