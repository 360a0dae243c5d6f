"""The OpenAI-compatible surface, driven by the official ``openai`` client, unmodified, against the local daemon
and the demo apps: the real plugin process behind the HTTP side Dify's daemon would be."""

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DEMO_APPS, DEMO_SETTINGS, DemoApps
from devkit.serve import create_server

ROOT = Path(__file__).resolve().parents[2]
KEY = "openai-test-key"


@pytest.fixture(scope="module")
def demo() -> DemoApps:
    return DemoApps(token_delay=0)


@pytest.fixture(scope="module")
def base_url(demo) -> Iterator[str]:
    server = create_server(
        ROOT, demo, settings={**DEMO_SETTINGS, "api_key": KEY}, console=lambda _: None, plugin_log=lambda _: None
    )
    server.serve_in_background()
    try:
        yield f"{server.endpoint_url}/v1"
    finally:
        server.close()


@pytest.fixture(scope="module")
def plugin_process() -> Iterator[PluginProcess]:
    """The plugin over stdio alone, for what a client library would hide (an empty list, a preflight)."""
    process = PluginProcess(ROOT, DemoApps(token_delay=0))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def client(base_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=30)


def test_every_named_app_is_a_model(client):
    models = {model.id: model for model in client.models.list()}
    assert set(models) == {app.slug for app in DEMO_APPS}
    assert models["outline"].type == "workflow" and models["chatbot"].type == "chat"


def test_a_chat_app_answers_as_a_chat_completion(client):
    completion = client.chat.completions.create(model="chatbot", messages=[{"role": "user", "content": "Hi there"}])
    message = completion.choices[0].message
    assert message.role == "assistant" and "turn 1 of our conversation" in message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0
    assert completion.conversation_id


def test_streaming_sends_chunks_the_role_first_and_the_usage_last(client):
    stream = client.chat.completions.create(
        model="chatbot",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "turn 1 of our conversation" in text
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
def test_three_turns_continue_one_conversation_in_dify(client, demo, stream):
    before = demo.turns()
    messages = []
    for turn, question in enumerate(["first", "second", "third"], start=1):
        messages.append({"role": "user", "content": question})
        if stream:
            chunks = client.chat.completions.create(model="chatbot", messages=messages, stream=True)
            reply = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        else:
            reply = client.chat.completions.create(model="chatbot", messages=messages).choices[0].message.content
        assert f"turn {turn} of our conversation" in reply, reply
        messages.append({"role": "assistant", "content": reply})
    new = {conversation: turns for conversation, turns in demo.turns().items() if conversation not in before}
    assert list(new.values()) == [3]  # one conversation in Dify, three turns


def test_an_edited_history_starts_over_with_the_earlier_turns_as_context(client):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "an answer the plugin never gave"},
        {"role": "user", "content": "second"},
    ]
    reply = client.chat.completions.create(model="chatbot", messages=messages).choices[0].message.content
    assert "turn 1" in reply and "[Conversation so far]" in reply and "system: Be brief." in reply


def test_an_explicit_conversation_id_continues_it(client):
    first = client.chat.completions.create(model="chatbot", messages=[{"role": "user", "content": "one"}])
    again = client.chat.completions.create(
        model="chatbot",
        messages=[{"role": "user", "content": "two"}],
        extra_headers={"X-Conversation-Id": first.conversation_id},
    )
    assert "turn 2" in again.choices[0].message.content
    assert again.conversation_id == first.conversation_id


def test_workflow_and_completion_apps_are_models_too(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="outline", messages=[{"role": "user", "content": "Green tea"}])
    assert "query_input" in refused.value.message and "topic" in refused.value.message
    outline = client.chat.completions.create(
        model="outline", messages=[{"role": "user", "content": "Green tea"}], extra_body={"query_input": "topic"}
    )
    assert "Green tea" in outline.choices[0].message.content
    streamed = client.chat.completions.create(
        model="blurb",
        messages=[{"role": "user", "content": "Solar kettle"}],
        extra_body={"query_input": "product", "inputs": {"style": "short"}},
        stream=True,
    )
    assert "Solar kettle" in "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)


def test_errors_are_the_openai_exceptions_people_catch(client, base_url):
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="nobody", messages=[{"role": "user", "content": "hi"}])
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    for bad in (
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
        {"messages": [{"role": "user", "content": "hi"}], "n": 2},
        {"messages": [{"role": "wizard", "content": "hi"}]},
        {"messages": []},
    ):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="chatbot", **bad)
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="chatbot", messages=[{"role": "user", "content": "quota"}])
    assert "quota" in failed.value.message.lower()


def test_a_failure_after_the_first_chunk_is_raised_by_the_client(client):
    stream = client.chat.completions.create(
        model="chatbot", messages=[{"role": "user", "content": "please fail halfway"}], stream=True
    )
    with pytest.raises(openai.APIError) as failed:
        for _ in stream:
            pass
    assert "failed halfway" in failed.value.message


def test_with_star_and_no_names_the_model_list_is_empty(plugin_process):
    # Dify gives a plugin no way to list a workspace's apps: only the apps allowed_apps names can be listed.
    response = plugin_process.request("GET", "/v1/models", settings={"allowed_apps": "*"})
    assert response.status == 200 and response.json() == {"object": "list", "data": []}
    preflight = plugin_process.request(
        "OPTIONS",
        "/v1/chat/completions",
        headers={"Origin": "https://chat.example", "Access-Control-Request-Method": "POST"},
        settings={"allowed_apps": "*", "cors_allowed_origins": "https://chat.example"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://chat.example"


def test_without_storage_a_history_is_sent_as_context(plugin_process):
    # The same plugin, its storage switched off in the daemon: nothing is remembered, nothing breaks.
    plugin_process.manifest["resource"]["permission"]["storage"]["enabled"] = False
    try:
        body = {
            "model": "chatbot",
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": "second"},
            ],
        }
        response = plugin_process.request(
            "POST",
            "/v1/chat/completions",
            headers={"Content-Type": "application/json"},
            body=json.dumps(body).encode(),
            settings=DEMO_SETTINGS,
        )
        assert response.status == 200
        assert "[Conversation so far]" in response.json()["choices"][0]["message"]["content"]
    finally:
        plugin_process.manifest["resource"]["permission"]["storage"]["enabled"] = True


def test_an_image_reaches_the_apps_file_input(client, demo):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24).decode()
    uploads = demo.files.uploads
    content = [
        {"type": "text", "text": "Green tea"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]
    reply = client.chat.completions.create(
        model="outline", messages=[{"role": "user", "content": content}], extra_body={"query_input": "topic"}
    )
    assert "Attachment: image-1.png (32 bytes, image/png)" in reply.choices[0].message.content
    assert demo.files.uploads == uploads + 1
    by_url = [{"type": "text", "text": "tea"}, {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}]
    reply = client.chat.completions.create(
        model="outline", messages=[{"role": "user", "content": by_url}], extra_body={"query_input": "topic"}
    )
    assert "Attachment by URL: https://img.example/a.png" in reply.choices[0].message.content
