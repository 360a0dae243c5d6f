"""The OpenAI-compatible surface, driven by the official ``openai`` client, unmodified, against the local daemon
and the demo apps: the real plugin process behind the HTTP side Dify's daemon would be. A second plugin process
plays scripted apps (hostile events, a cut stream, an app that stays silent) with a short keep-alive interval."""

import base64
import contextlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import CHATBOT_APP_ID, DEMO_APPS, DEMO_SETTINGS, DemoApps
from devkit.serve import DEFAULT_HOST, DEFAULT_PORT, create_server, default_settings, format_banner
from tests.integration.apps import CHAT_APP, SCRIPTED_APP, CountingDemo, ScriptedApps, chat_events, workflow_events

ROOT = Path(__file__).resolve().parents[2]
KEY = "openai-test-key"
ORIGIN = "https://chat.example"
KEEPALIVE = b": keep-alive\n\n"
UNLISTED_APP = "00000000-0000-4000-8000-000000000000"
HUSHED_APP = "c0ffee00-0a1a-4a1a-8a1a-0000000000a1"
"""Says nothing until ``OpenAIApps.hushed`` is set (a model thinking before its first word), then answers."""
FORM_APP = "c0ffee00-0a1a-4a1a-8a1a-0000000000a2"
"""A workflow with two optional text inputs: no rule can choose which one receives the message."""
FORM_APP_PARAMETERS = {
    "user_input_form": [
        {"text-input": {"variable": "a", "label": "A", "required": False}},
        {"paragraph": {"variable": "b", "label": "B", "required": False}},
    ]
}


# -- the demo apps, as make run serves them (with a key and a CORS origin) -------------------------------------


@pytest.fixture(scope="module")
def demo() -> CountingDemo:
    return CountingDemo()


@pytest.fixture(scope="module")
def base_url(demo) -> Iterator[str]:
    settings = {**DEMO_SETTINGS, "api_key": KEY, "cors_allowed_origins": ORIGIN}
    server = create_server(ROOT, demo, settings=settings, console=lambda _: None, plugin_log=lambda _: None)
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


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def streamed_text(chunks: Iterable[Any], field: str = "content") -> str:
    return "".join(getattr(chunk.choices[0].delta, field, None) or "" for chunk in chunks if chunk.choices)


def assert_no_internals(text: str) -> None:
    for leak in ("Traceback", 'File "', ".py", "site-packages"):
        assert leak not in text


def test_every_named_app_is_a_model(client):
    models = {model.id: model for model in client.models.list()}
    assert set(models) == {app.slug for app in DEMO_APPS}
    assert models["outline"].type == "workflow" and models["chatbot"].type == "chat"


def test_a_chat_app_answers_as_a_chat_completion(client):
    completion = client.chat.completions.create(model="chatbot", messages=ask("Hi there"))
    message = completion.choices[0].message
    assert message.role == "assistant" and "turn 1 of our conversation" in message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0
    assert completion.conversation_id
    assert client.chat.completions.create(model=CHATBOT_APP_ID, messages=ask("By id")).choices[0].message.content


def test_streaming_sends_chunks_of_one_id_and_one_conversation_the_role_first_and_the_usage_last(client):
    stream = client.chat.completions.create(
        model="chatbot", messages=ask("Hi"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "turn 1 of our conversation" in streamed_text(chunks)
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    conversations = {chunk.conversation_id for chunk in chunks}
    assert len(conversations) == 1 and None not in conversations


@pytest.mark.parametrize("app", DEMO_APPS, ids=lambda app: app.slug)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_every_demo_app_answers_a_plain_message(client, app, stream):
    # No extra_body, no inputs: what Open WebUI or any unmodified client sends.
    if stream:
        text = streamed_text(client.chat.completions.create(model=app.slug, messages=ask("Green tea"), stream=True))
    else:
        text = client.chat.completions.create(model=app.slug, messages=ask("Green tea")).choices[0].message.content
    assert "Green tea" in text


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_three_turns_continue_one_conversation_in_dify(client, demo, stream):
    before = demo.turns()
    messages = []
    for turn, question in enumerate(["first", "second", "third"], start=1):
        messages.append({"role": "user", "content": question})
        if stream:
            reply = streamed_text(client.chat.completions.create(model="chatbot", messages=messages, stream=True))
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


def test_a_regenerated_answer_does_not_land_in_the_conversation_that_moved_on(client, demo):
    first = client.chat.completions.create(model="chatbot", messages=ask("one"))
    history = [*ask("one"), {"role": "assistant", "content": first.choices[0].message.content}, *ask("two")]
    second = client.chat.completions.create(model="chatbot", messages=history)
    assert second.conversation_id == first.conversation_id
    again = client.chat.completions.create(model="chatbot", messages=history)  # "regenerate" the second answer
    assert again.conversation_id != first.conversation_id
    assert "turn 1" in again.choices[0].message.content and "[Conversation so far]" in again.choices[0].message.content
    assert demo.turns()[first.conversation_id] == 2  # Dify's conversation holds no duplicate turn
    onwards = [*history, {"role": "assistant", "content": again.choices[0].message.content}, *ask("three")]
    third = client.chat.completions.create(model="chatbot", messages=onwards)
    assert third.conversation_id == again.conversation_id and "turn 2" in third.choices[0].message.content


def test_a_conversation_id_in_the_header_or_the_body_continues_it(client):
    first = client.chat.completions.create(model="chatbot", messages=ask("one"))
    by_header = client.chat.completions.create(
        model="chatbot", messages=ask("two"), extra_headers={"X-Conversation-Id": first.conversation_id}
    )
    assert "turn 2" in by_header.choices[0].message.content
    assert by_header.conversation_id == first.conversation_id
    by_body = client.chat.completions.create(
        model="chatbot", messages=ask("three"), extra_body={"conversation_id": first.conversation_id}, stream=True
    )
    chunks = list(by_body)
    assert "turn 3" in streamed_text(chunks)
    assert {chunk.conversation_id for chunk in chunks} == {first.conversation_id}


def test_the_conversation_id_comes_back_in_a_response_header(client):
    raw = client.chat.completions.with_raw_response.create(model="chatbot", messages=ask("Hi"))
    completion = raw.parse()
    assert raw.headers["X-Conversation-Id"] == completion.conversation_id
    with client.chat.completions.with_streaming_response.create(
        model="chatbot", messages=ask("Hi"), stream=True
    ) as response:
        header = response.headers["X-Conversation-Id"]
        chunks = list(response.parse())
    assert header and {chunk.conversation_id for chunk in chunks} == {header}
    assert header != completion.conversation_id  # two requests without history: two conversations


# -- what reaches content -------------------------------------------------------------------------------------


def test_reasoning_goes_to_reasoning_content_never_to_content(client):
    message = client.chat.completions.create(model="chatbot", messages=ask("think first")).choices[0].message
    assert message.content.startswith("I thought about it first")
    assert message.reasoning_content.startswith("The user asked: “think first”.")
    assert "<think>" not in message.content and "</think>" not in message.content
    chunks = list(client.chat.completions.create(model="chatbot", messages=ask("think first"), stream=True))
    assert streamed_text(chunks) == message.content
    assert streamed_text(chunks, "reasoning_content") == message.reasoning_content


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_agents_thoughts_never_reach_content(client, stream):
    question = ask("Do I need an umbrella?")
    if stream:
        text = streamed_text(client.chat.completions.create(model="agent", messages=question, stream=True))
    else:
        text = client.chat.completions.create(model="agent", messages=question).choices[0].message.content
    assert text.startswith("The weather tool says it is sunny")
    assert text.endswith("You asked: “Do I need an umbrella?”.")
    assert "I should ask the weather tool" not in text and "(demo data)" not in text  # the thought, the observation


def test_text_parts_are_joined(client):
    parts = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    reply = client.chat.completions.create(model="chatbot", messages=[{"role": "user", "content": parts}])
    assert "You said: “one\ntwo”" in reply.choices[0].message.content


# -- workflow and completion apps ------------------------------------------------------------------------------


def test_the_message_fills_the_only_required_text_input(client):
    # outline: topic (required) and notes; blurb: product (required) and features. No query_input needed.
    outline = client.chat.completions.create(model="outline", messages=ask("Green tea"))
    assert "Outline for “Green tea”" in outline.choices[0].message.content
    blurb = client.chat.completions.create(model="blurb", messages=ask("Solar kettle"), stream=True)
    assert streamed_text(blurb).startswith("Meet Solar kettle.")


def test_query_input_and_inputs_still_choose(client):
    outline = client.chat.completions.create(
        model="outline",
        messages=ask("Keep it short"),
        extra_body={"query_input": "notes", "inputs": {"topic": "Green tea", "tone": "formal"}},
    )
    text = outline.choices[0].message.content
    assert "Introduction to Green tea" in text and "Notes taken into account: Keep it short" in text


def test_an_image_reaches_the_apps_file_input(client, demo):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24).decode()
    content = [
        {"type": "text", "text": "Green tea"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]
    reply = client.chat.completions.create(model="outline", messages=[{"role": "user", "content": content}])
    # Dify read the image at the address the plugin serves it at, under its endpoint's public URL.
    assert "Attachment: image-1.png (32 bytes, image/png)" in reply.choices[0].message.content
    demo.reachable["https://img.example/a.png"] = b"\x89PNG\r\n\x1a\n"
    by_url = [{"type": "text", "text": "tea"}, {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}]
    reply = client.chat.completions.create(model="outline", messages=[{"role": "user", "content": by_url}])
    assert "Attachment: a.png (8 bytes, image/png)" in reply.choices[0].message.content


def test_a_message_of_images_only(client, demo):
    demo.reachable["https://img.example/a.png"] = b"\x89PNG\r\n\x1a\n"
    image = {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}
    only_image = [{"role": "user", "content": [image]}]
    for model in ("chatbot", "outline"):  # a chat app needs words; the outline needs its topic
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model=model, messages=only_image)
        assert refused.value.param == "messages"
    assert "topic" in refused.value.message
    reply = client.chat.completions.create(
        model="outline", messages=only_image, extra_body={"inputs": {"topic": "Green tea"}}
    )
    text = reply.choices[0].message.content
    assert "Outline for “Green tea”" in text and "Attachment: a.png (8 bytes, image/png)" in text


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["nobody", UNLISTED_APP])
def test_a_model_the_endpoint_does_not_serve_is_not_found(client, model):
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model=model, messages=ask("hi"))
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"


def test_errors_are_the_openai_exceptions_people_catch(client, base_url):
    with pytest.raises(openai.AuthenticationError) as refused:
        openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    assert refused.value.code == "invalid_api_key"
    image_only = [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]
    for bad in (
        {"messages": [{"role": "user", "content": image_only}]},
        {"messages": ask("hi"), "n": 2},
        {"messages": ask("hi"), "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"messages": ask("hi"), "functions": [{"name": "f", "parameters": {}}]},
        {"messages": [{"role": "wizard", "content": "hi"}]},
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        {"messages": []},
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="chatbot", **bad)
        assert refused.value.type == "invalid_request_error" and refused.value.message


def test_a_conversation_dify_does_not_know_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(
            model="chatbot", messages=ask("hi"), extra_body={"conversation_id": "no-such-conversation"}, stream=True
        )
    assert unknown.value.code == "conversation_not_found" and "no-such-conversation" in unknown.value.message


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_app_that_fails_before_its_first_word_is_an_error_status(client, stream):
    # Streaming too: the status is chosen after the app's first event, and that event is already the failure.
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="chatbot", messages=ask("quota"), stream=stream)
    assert failed.value.status_code == 502 and failed.value.code == "provider_quota_exceeded"
    assert failed.value.type == "server_error"


def test_a_failure_after_the_first_chunk_is_raised_by_the_client(client):
    stream = client.chat.completions.create(model="chatbot", messages=ask("please fail halfway"), stream=True)
    with pytest.raises(openai.APIError) as failed:
        for _ in stream:
            pass
    assert "failed halfway" in failed.value.message


# -- CORS and what make run prints -----------------------------------------------------------------------------


def test_cors_headers_on_answers_and_errors(base_url):
    browser = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, default_headers={"Origin": ORIGIN})
    answers = [
        browser.models.with_raw_response.list(),
        browser.chat.completions.with_raw_response.create(model="chatbot", messages=ask("Hi")),
    ]
    with browser.chat.completions.with_streaming_response.create(
        model="chatbot", messages=ask("Hi"), stream=True
    ) as streamed:
        answers.append(streamed)
    with pytest.raises(openai.NotFoundError) as refused:
        browser.chat.completions.create(model="nobody", messages=ask("hi"))
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        openai.OpenAI(
            base_url=base_url, api_key="wrong", max_retries=0, default_headers={"Origin": ORIGIN}
        ).models.list()
    for headers in [answer.headers for answer in answers] + [refused.value.response.headers]:
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        assert headers["Access-Control-Expose-Headers"] == "X-Conversation-Id"
    assert unauthorized.value.response.headers["Access-Control-Allow-Origin"] == ORIGIN
    other = openai.OpenAI(base_url=base_url, api_key=KEY, default_headers={"Origin": "https://other.example"})
    assert "Access-Control-Allow-Origin" not in other.models.with_raw_response.list().headers


def test_the_readme_example_runs_and_make_run_prints_the_same(base_url):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## OpenAI-compatible API", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)[1]
    documented = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/e/<hook_id>/v1"
    assert f'base_url="{documented}"' in example and 'model="chatbot"' in example
    endpoint = base_url.removesuffix("/v1")
    banner = format_banner(endpoint, plugin_dir=ROOT, settings=default_settings(ROOT))
    assert f"base URL {endpoint}/v1" in banner
    assert f"OpenAI(base_url='{endpoint}/v1'" in banner and "model='chatbot'" in banner
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(
            example.replace(documented, base_url).replace("<key>", KEY), {}
        )  # the README's own example, as a reader runs it
    models, reply = printed.getvalue().splitlines()[:2]
    assert "'chatbot'" in models and "turn 1 of our conversation" in reply


# -- through the daemon's stdio alone ----------------------------------------------------------------------------


def test_with_star_and_no_names_the_model_list_is_empty(plugin_process):
    # Dify gives a plugin no way to list a workspace's apps: only the apps allowed_apps names can be listed.
    response = plugin_process.request("GET", "/v1/models", settings={"allowed_apps": "*"})
    assert response.status == 200 and response.json() == {"object": "list", "data": []}
    preflight = plugin_process.request(
        "OPTIONS",
        "/v1/chat/completions",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
        },
        settings={"allowed_apps": "*", "cors_allowed_origins": ORIGIN},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-stainless-os" in preflight.headers["Access-Control-Allow-Headers"]


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


# -- scripted apps: hostile events, a cut stream, silence ------------------------------------------------------


class OpenAIApps(ScriptedApps):
    """The scripted apps, plus an app that stays silent until told and a workflow with two optional text inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.hushed = threading.Event()

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        if request["app_id"] == HUSHED_APP:
            with self.lock:
                self.calls.append(request)
            return self._hushed(request)
        if request["app_id"] == FORM_APP:
            with self.lock:
                self.calls.append(request)
            return workflow_events(request)
        return super().invoke_app(request)

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return FORM_APP_PARAMETERS if app_id == FORM_APP else super().fetch_app(app_id)

    def _hushed(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.hushed.wait(timeout=30)
        yield from chat_events(request)


class Recorder(httpx.HTTPTransport):
    """An HTTP transport that keeps every response body as the client reads it, and calls ``on_read`` with the
    body so far after each piece: the test sees what a client library hides (SSE comments)."""

    def __init__(self, on_read: Callable[[bytes], None]) -> None:
        super().__init__()
        self.body = bytearray()
        self.on_read = on_read

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.stream = _Tee(response.stream, self)
        return response


class _Tee(httpx.SyncByteStream):
    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.inner:
            self.recorder.body += piece
            self.recorder.on_read(bytes(self.recorder.body))
            yield piece

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def apps() -> OpenAIApps:
    return OpenAIApps()


@pytest.fixture(scope="module")
def scripted_url(apps) -> Iterator[str]:
    settings = {
        "allowed_apps": f"chat:scripted={SCRIPTED_APP}, chat:hushed={HUSHED_APP}, workflow:form={FORM_APP}, {CHAT_APP}"
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("APP_RELAY_KEEPALIVE_SECONDS", "0.3")  # read by the plugin process as it starts
        server = create_server(ROOT, apps, settings=settings, console=lambda _: None, plugin_log=lambda _: None)
    server.serve_in_background()
    try:
        yield f"{server.endpoint_url}/v1"
    finally:
        server.close()


@pytest.fixture
def scripted(scripted_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=scripted_url, api_key="none", max_retries=0, timeout=30)


def test_an_app_without_a_name_is_listed_and_chosen_by_its_id(scripted):
    models = {model.id: model.type for model in scripted.models.list()}
    assert models == {"scripted": "chat", "hushed": "chat", "form": "workflow", CHAT_APP: "chat"}
    reply = scripted.chat.completions.create(model=CHAT_APP, messages=ask("hi"))
    assert reply.choices[0].message.content == "You said hi with []"


def test_a_silent_app_gets_keep_alives_before_the_first_chunk(scripted_url, apps):
    apps.hushed.clear()
    recorder = Recorder(lambda body: apps.hushed.set() if KEEPALIVE in body else None)
    client = openai.OpenAI(
        base_url=scripted_url, api_key="none", max_retries=0, timeout=30, http_client=httpx.Client(transport=recorder)
    )
    with client.chat.completions.with_streaming_response.create(
        model="hushed", messages=ask("hi"), stream=True
    ) as response:
        assert "X-Conversation-Id" not in response.headers  # the status went out before Dify named one
        chunks = list(response.parse())
    body = bytes(recorder.body)
    assert body.startswith(KEEPALIVE) and body.index(KEEPALIVE) < body.index(b"data: ")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert streamed_text(chunks) == "You said hi with []"
    assert {chunk.id for chunk in chunks} == {"chatcmpl-msg-1"}
    assert {chunk.conversation_id for chunk in chunks} == {"conv-1"}


HOSTILE_EVENTS = [
    # Every one an object: the SDK itself fails on anything else (see the next test).
    {"event": "message", "answer": "Hello", "conversation_id": "conv-h", "message_id": "msg-h"},
    {"event": {"unhashable": True}},
    {"answer": "no event name"},
    {"event": "message", "answer": ["not", "text"]},
    {"event": "agent_thought", "thought": "a secret plan", "conversation_id": "conv-h"},
    {"event": "message", "answer": " world", "conversation_id": "another", "message_id": "another"},
    {"event": "text_chunk", "data": "not an object"},
    {"event": "workflow_finished", "data": {"outputs": [1], "status": {}}},
    {"event": "message_replace"},
    {"event": "message_end", "metadata": {"usage": {"prompt_tokens": "many", "total_tokens": {"x": 1}}}},
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_hostile_events_never_break_an_answer(scripted, apps, stream):
    apps.script = HOSTILE_EVENTS
    if stream:
        with scripted.chat.completions.with_streaming_response.create(
            model="scripted", messages=ask("hi"), stream=True
        ) as response:
            body = response.read().decode()
        frames = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
        text = "".join(frame["choices"][0]["delta"].get("content", "") for frame in frames if frame["choices"])
        assert {frame["id"] for frame in frames} == {"chatcmpl-msg-h"}
        assert {frame["conversation_id"] for frame in frames} == {"conv-h"}
        assert body.endswith("data: [DONE]\n\n")
    else:
        raw = scripted.chat.completions.with_raw_response.create(model="scripted", messages=ask("hi"))
        body = raw.text
        text = raw.parse().choices[0].message.content
    assert text == "Hello world"
    assert "secret plan" not in body
    assert_no_internals(body)


def test_an_event_the_sdk_cannot_read_is_an_error_without_internals(scripted, apps):
    apps.script = [{"event": "message", "answer": "a", "message_id": "m"}, ["not", "an", "object"]]
    with pytest.raises(openai.APIError) as streamed:
        list(scripted.chat.completions.create(model="scripted", messages=ask("hi"), stream=True))
    with pytest.raises(openai.InternalServerError) as whole:
        scripted.chat.completions.create(model="scripted", messages=ask("hi"))
    for error in (streamed.value, whole.value):
        assert "plugin" in error.message
        assert_no_internals(json.dumps(error.body))


def test_a_stream_cut_short_ends_with_an_error_frame_then_done(scripted, apps):
    apps.script = [{"event": "message", "answer": "half an ans", "conversation_id": "c", "message_id": "m"}]
    with scripted.chat.completions.with_streaming_response.create(
        model="scripted", messages=ask("hi"), stream=True
    ) as response:
        frames = [line for line in response.iter_lines() if line]
    assert frames[-1] == "data: [DONE]"
    last = json.loads(frames[-2].removeprefix("data: "))
    assert last["error"]["code"] == "stream_truncated" and "final event" in last["error"]["message"]
    with pytest.raises(openai.APIError) as streamed:
        list(scripted.chat.completions.create(model="scripted", messages=ask("hi"), stream=True))
    assert "final event" in streamed.value.message
    with pytest.raises(openai.InternalServerError) as whole:
        scripted.chat.completions.create(model="scripted", messages=ask("hi"))
    assert whole.value.code == "stream_truncated"
    assert_no_internals(whole.value.response.text)


def test_an_app_with_several_optional_text_inputs_asks_for_query_input(scripted, apps):
    with pytest.raises(openai.BadRequestError) as refused:
        scripted.chat.completions.create(model="form", messages=ask("hello"))
    assert refused.value.param == "query_input"
    assert "a (text-input), b (paragraph)" in refused.value.message
    scripted.chat.completions.create(model="form", messages=ask("hello"), extra_body={"query_input": "b"})
    assert apps.calls[-1]["inputs"] == {"b": "hello"}


@pytest.mark.parametrize("question", ["quota", "no-credentials"])
def test_the_official_client_at_its_default_retries_runs_a_failing_app_once(base_url, demo, question):
    client = openai.OpenAI(base_url=base_url, api_key=KEY, timeout=30)  # max_retries left at its default, 2
    before = demo.runs
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="chatbot", messages=ask(question))
    assert failed.value.status_code == 502
    assert failed.value.response.headers["x-should-retry"] == "false"
    assert demo.runs - before == 1  # one call, one app run: the client did not retry


def test_the_official_client_gets_a_400_for_its_own_mistake_and_does_not_retry(base_url):
    client = openai.OpenAI(base_url=base_url, api_key=KEY, timeout=30)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="outline", messages=ask("tea"), extra_body={"query_input": "nope"})
    assert refused.value.body["param"] == "query_input"
