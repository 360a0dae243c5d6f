"""The Responses API through the real plugin process behind the local daemon, driven by real clients, unmodified:
the official ``openai`` client, the OpenAI Agents SDK (``openai-agents``) and, when a ``codex`` binary is at hand
(``CODEX_BIN``, else the ``PATH``), Codex CLI's ``codex exec``. The demo apps answer as Dify's do; a second plugin
process plays scripted apps (an app that stays silent, a conversation Dify lost, an app that answers Codex) with a
short keep-alive interval."""

import asyncio
import base64
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import agents
import httpx
import openai
import pytest

from devkit.demo.apps import DEMO_SETTINGS, DemoApps
from devkit.serve import create_server
from relay.core.answer import PAUSED
from tests.integration.apps import SCRIPTED_APP, ScriptedApps, chat_events
from tests.integration.test_openai import KEEPALIVE, Recorder

ROOT = Path(__file__).resolve().parents[2]
ALICE, BOB = "alice-key", "bob-key"
ORIGIN = "https://agents.example"
HUSHED_APP = "c0ffee00-0a1a-4a1a-8a1a-0000000000b1"
"""Says nothing until ``ResponsesApps.hushed`` is set, then answers."""
ECHO_APP = "c0ffee00-0a1a-4a1a-8a1a-0000000000b2"
"""Answers "Hello from Dify, turn <n>." in Dify's own conversations (UUIDs): what Codex is pointed at."""
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24).decode()


class ResponsesDemo(DemoApps):
    """The demo apps as Dify 1.16 runs them (completion apps fail for plugins), counting every run."""

    def __init__(self) -> None:
        super().__init__(token_delay=0)
        self.runs = 0
        self._count = threading.Lock()

    def invoke_app(self, request: dict[str, Any]) -> Any:
        with self._count:
            self.runs += 1
        return super().invoke_app(request)


@pytest.fixture(scope="module")
def demo() -> ResponsesDemo:
    return ResponsesDemo()


@pytest.fixture(scope="module")
def base_url(demo) -> Iterator[str]:
    settings = {**DEMO_SETTINGS, "api_key": f"{ALICE}, {BOB}", "cors_allowed_origins": ORIGIN}
    server = create_server(ROOT, demo, settings=settings, console=lambda _: None, plugin_log=lambda _: None)
    server.serve_in_background()
    try:
        yield f"{server.endpoint_url}/v1"
    finally:
        server.close()


@pytest.fixture
def client(base_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=ALICE, max_retries=0, timeout=30)


def texts(events: Iterable[Any], kind: str = "response.output_text.delta") -> str:
    return "".join(event.delta for event in events if event.type == kind)


# -- the official openai client ----------------------------------------------------------------------------------


def test_a_chat_app_answers_with_a_response_object(client):
    response = client.responses.create(model="chatbot", input="Hi there", metadata={"ticket": "42"})
    assert response.object == "response" and response.status == "completed" and response.model == "chatbot"
    assert response.id.startswith("resp_") and "turn 1 of our conversation" in response.output_text
    assert [item.type for item in response.output] == ["message"] and response.output[0].role == "assistant"
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens > 0
    assert response.metadata == {"ticket": "42"} and response.error is None and response.incomplete_details is None


def test_streaming_is_the_responses_event_sequence_numbered_under_one_id(client):
    events = list(client.responses.create(model="chatbot", input="Hi", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert kinds.count("response.output_text.delta") > 3  # one per Dify delta
    final = events[-1].response
    assert texts(events) == final.output_text and "turn 1 of our conversation" in final.output_text
    assert {event.response.id for event in events if hasattr(event, "response")} == {final.id}
    with client.responses.stream(model="outline", input="Green tea") as stream:  # the SDK's own accumulating helper
        for _ in stream:
            pass
        assert stream.get_final_response().output_text.startswith("Outline for “Green tea”")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_second_turn_by_previous_response_id_continues_the_dify_conversation(client, demo, stream):
    before = demo.turns()
    first = client.responses.create(model="chatbot", input="first")
    if stream:
        events = list(
            client.responses.create(model="chatbot", input="second", previous_response_id=first.id, stream=True)
        )
        second = events[-1].response
    else:
        second = client.responses.create(model="chatbot", input="second", previous_response_id=first.id)
    assert "turn 2 of our conversation" in second.output_text and "You said: “second”" in second.output_text
    assert second.previous_response_id == first.id
    third = client.responses.create(model="chatbot", input="third", previous_response_id=second.id, store=False)
    assert "turn 3 of our conversation" in third.output_text
    assert sorted(turns for conversation, turns in demo.turns().items() if conversation not in before) == [3]


def test_a_resent_history_continues_as_chat_completions_do(client, demo):
    # What a stateless client (Codex) sends: the instructions every time, the whole history, nothing kept.
    ask = {"role": "user", "content": [{"type": "input_text", "text": "first"}]}
    first = client.responses.create(model="chatbot", instructions="Be brief.", input=[ask], store=False)
    assert "[Conversation so far]\nsystem: Be brief." in first.output_text  # a system message's rule: context
    history = [ask, *[item.model_dump() for item in first.output], {"role": "user", "content": "second"}]
    second = client.responses.create(model="chatbot", instructions="Be brief.", input=history, store=False)
    assert "turn 2 of our conversation" in second.output_text and "You said: “second”" in second.output_text


def test_reasoning_is_its_own_item_never_the_answer(client):
    response = client.responses.create(model="chatbot", input="think first")
    reasoning, _answer = response.output
    assert reasoning.type == "reasoning" and reasoning.content[0].text.startswith("The user asked: “think first”.")
    assert response.output_text.startswith("I thought about it first") and "<think>" not in response.output_text
    events = list(client.responses.create(model="chatbot", input="think first", stream=True))
    assert texts(events, "response.reasoning_text.delta") == reasoning.content[0].text
    assert texts(events) == response.output_text


def test_an_image_and_a_file_reach_the_apps_file_input(client, demo):
    image = {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}
    response = client.responses.create(
        model="outline", input=[{"role": "user", "content": [{"type": "input_text", "text": "Green tea"}, image]}]
    )
    assert "Attachment: image-1.png (32 bytes, image/png)" in response.output_text
    demo.reachable["https://img.example/a.png"] = b"\x89PNG\r\n\x1a\n"
    by_url = {"type": "input_file", "file_url": "https://img.example/a.png"}
    response = client.responses.create(
        model="outline", input=[{"role": "user", "content": [{"type": "input_text", "text": "tea"}, by_url]}]
    )
    assert "Attachment: a.png (8 bytes, image/png)" in response.output_text


def test_a_workflow_answers_with_its_text_and_the_dify_inputs_still_choose(client):
    response = client.responses.create(
        model="outline", input="Keep it short", extra_body={"query_input": "notes", "inputs": {"topic": "Green tea"}}
    )
    assert (
        "Outline for “Green tea”" in response.output_text
        and "Notes taken into account: Keep it short" in response.output_text
    )


def test_errors_are_the_openai_exceptions_people_catch(client, base_url):
    with pytest.raises(openai.NotFoundError) as unknown:
        client.responses.create(model="nobody", input="hi")
    assert (unknown.value.code, unknown.value.param) == ("model_not_found", "model")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).responses.create(model="chatbot", input="hi")
    tool = {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}}
    for bad, param in (
        ({"tools": [tool], "tool_choice": "required"}, "tool_choice"),
        ({"tools": [tool], "tool_choice": {"type": "function", "name": "shell"}}, "tool_choice"),
        ({"metadata": {"k": "v" * 600}}, "metadata"),
        ({"extra_body": {"stream": "yes"}}, "stream"),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input[0]"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(**{"model": "chatbot", "input": "hi", **bad})
        assert refused.value.param == param and refused.value.type == "invalid_request_error", bad
    accepted = client.responses.create(model="chatbot", input="hi", tools=[tool], tool_choice="auto")
    assert accepted.status == "completed" and accepted.tools == []  # accepted, never called


def test_another_keys_response_is_not_found(client, base_url):
    mine = client.responses.create(model="chatbot", input="mine")
    bob = openai.OpenAI(base_url=base_url, api_key=BOB, max_retries=0, timeout=30)
    with pytest.raises(openai.BadRequestError) as refused:
        bob.responses.create(model="chatbot", input="yours?", previous_response_id=mine.id)
    assert refused.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(mine.id)


def test_get_returns_a_kept_response_and_says_why_another_is_not(client):
    kept = client.responses.create(model="chatbot", input="keep me", metadata={"k": "v"})
    found = client.responses.retrieve(kept.id)
    assert found.model_dump() == kept.model_dump()
    streamed = list(client.responses.create(model="chatbot", input="keep me too", stream=True))[-1].response
    assert client.responses.retrieve(streamed.id).output_text == streamed.output_text
    unkept = client.responses.create(model="chatbot", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(unkept.id)
    assert "store: false" in missing.value.message
    with pytest.raises(openai.NotFoundError) as nothing:
        client.responses.retrieve("resp_nothing")
    assert nothing.value.code == "response_not_found"


def test_a_failure_after_the_first_byte_ends_with_response_failed(client):
    events = list(client.responses.create(model="chatbot", input="please fail halfway", stream=True))
    assert "response.output_text.delta" in [event.type for event in events]
    last = events[-1]
    assert last.type == "response.failed" and last.response.status == "failed"
    assert "failed halfway" in last.response.error.message


@pytest.mark.parametrize("question", ["quota", "no-credentials"])
def test_an_app_that_fails_before_its_first_word_runs_once_under_the_default_retries(base_url, demo, question):
    client = openai.OpenAI(base_url=base_url, api_key=ALICE, timeout=30)  # max_retries left at its default, 2
    before = demo.runs
    with pytest.raises(openai.InternalServerError) as failed:
        client.responses.create(model="chatbot", input=question, stream=question == "quota")
    assert failed.value.status_code == 502 and failed.value.response.headers["x-should-retry"] == "false"
    assert demo.runs - before == 1


def test_a_run_paused_for_a_person_is_incomplete_and_a_completion_app_says_what_dify_does(client):
    paused = client.responses.create(model="chatflow", input="please pause paused")
    assert paused.status == "incomplete" and paused.incomplete_details.reason == "paused"
    assert paused.output_text.endswith(PAUSED)
    events = list(client.responses.create(model="chatflow", input="paused", stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.output_text.endswith(PAUSED)
    with pytest.raises(openai.InternalServerError) as refused:
        client.responses.create(model="blurb", input="Solar kettle")
    assert refused.value.code == "app_type_unsupported" and "completion" in refused.value.message


def test_cors_and_the_preflight_of_both_routes(base_url):
    browser = openai.OpenAI(base_url=base_url, api_key=ALICE, max_retries=0, default_headers={"Origin": ORIGIN})
    raw = browser.responses.with_raw_response.create(model="chatbot", input="hi")
    assert raw.headers["Access-Control-Allow-Origin"] == ORIGIN
    response_id = raw.parse().id
    for path in ("/responses", f"/responses/{response_id}"):
        preflight = httpx.options(
            base_url + path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == ORIGIN


# -- the OpenAI Agents SDK ---------------------------------------------------------------------------------------


def test_an_agent_on_the_responses_model_runs_streams_and_continues(base_url, demo):
    client = openai.AsyncOpenAI(base_url=base_url, api_key=ALICE, max_retries=0, timeout=30)
    model = agents.OpenAIResponsesModel(model="chatbot", openai_client=client)
    agent = agents.Agent(name="Support", instructions="You help with tea.", model=model)
    config = agents.RunConfig(tracing_disabled=True)

    async def conversation() -> tuple[Any, Any, Any]:
        first = await agents.Runner.run(agent, "Green or black?", run_config=config)
        second = await agents.Runner.run(
            agent, "And oolong?", previous_response_id=first.last_response_id, run_config=config
        )
        streamed = agents.Runner.run_streamed(agent, "Stream it", run_config=config)
        kinds = [event.type async for event in streamed.stream_events()]
        return first, second, (streamed, kinds)

    first, second, (streamed, kinds) = asyncio.run(conversation())
    assert "turn 1 of our conversation" in first.final_output and "system: You help with tea." in first.final_output
    assert first.last_response_id.startswith("resp_")
    assert "turn 2 of our conversation" in second.final_output and "“And oolong?”" in second.final_output
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert "turn 1 of our conversation" in streamed.final_output and "Stream it" in streamed.final_output


def test_an_agent_is_told_when_the_app_fails(base_url):
    client = openai.AsyncOpenAI(base_url=base_url, api_key=ALICE, max_retries=0, timeout=30)
    agent = agents.Agent(name="Support", model=agents.OpenAIResponsesModel(model="chatbot", openai_client=client))
    config = agents.RunConfig(tracing_disabled=True)

    async def failing() -> None:
        streamed = agents.Runner.run_streamed(agent, "please fail halfway", run_config=config)
        async for _ in streamed.stream_events():
            pass

    with pytest.raises(agents.exceptions.ModelBehaviorError) as failed:
        asyncio.run(failing())
    assert "failed halfway" in str(failed.value)


# -- scripted apps: silence, a lost conversation, Codex -----------------------------------------------------------


class ResponsesApps(ScriptedApps):
    """The scripted apps, plus an app that stays silent until told, and one that answers Codex."""

    def __init__(self) -> None:
        super().__init__()
        self.hushed = threading.Event()
        self.turns: dict[str, int] = {}

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        if request["app_id"] == HUSHED_APP:
            return self._hushed(request)
        if request["app_id"] == ECHO_APP:
            return self._echo(request)
        return super().invoke_app(request)

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return {} if app_id in (ECHO_APP, SCRIPTED_APP) else super().fetch_app(app_id)

    def _hushed(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.hushed.wait(timeout=30)
        yield from chat_events(request)

    def _echo(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        with self.lock:
            self.calls.append(request)
            conversation = request.get("conversation_id") or str(uuid.uuid4())
            self.turns[conversation] = turn = self.turns.get(conversation, 0) + 1
        common = {"conversation_id": conversation, "message_id": str(uuid.uuid4())}
        words = [
            {"event": "message", "answer": word, **common} for word in ("Hello ", "from ", "Dify, ", f"turn {turn}.")
        ]
        if str(request.get("query")).endswith("fail midway"):
            return [*words, {"event": "error", "code": "completion_request_error", "message": "The model broke."}]
        usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        return [*words, {"event": "message_end", "metadata": {"usage": usage}, **common}]


@pytest.fixture(scope="module")
def apps() -> ResponsesApps:
    return ResponsesApps()


@pytest.fixture(scope="module")
def scripted_url(apps) -> Iterator[str]:
    settings = {
        "allowed_apps": f"chat:scripted={SCRIPTED_APP}, chat:hushed={HUSHED_APP}, chat:echo={ECHO_APP}",
        "api_key": ALICE,
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("APP_RELAY_KEEPALIVE_SECONDS", "0.3")  # read by the plugin process as it starts
        server = create_server(ROOT, apps, settings=settings, console=lambda _: None, plugin_log=lambda _: None)
    server.serve_in_background()
    try:
        yield f"{server.endpoint_url}/v1"
    finally:
        server.close()


def test_a_silent_app_gets_keep_alives_before_the_response_is_created(scripted_url, apps):
    apps.hushed.clear()
    recorder = Recorder(lambda body: apps.hushed.set() if KEEPALIVE in body else None)
    client = openai.OpenAI(
        base_url=scripted_url, api_key=ALICE, max_retries=0, timeout=30, http_client=httpx.Client(transport=recorder)
    )
    events = list(client.responses.create(model="hushed", input="hi", stream=True))
    body = bytes(recorder.body)
    assert body.startswith(KEEPALIVE) and body.index(KEEPALIVE) < body.index(b"event: response.created")
    assert events[0].type == "response.created" and events[-1].response.output_text == "You said hi with []"


def test_a_conversation_dify_lost_is_said_in_the_responses_shape(scripted_url, apps):
    client = openai.OpenAI(base_url=scripted_url, api_key=ALICE, max_retries=0, timeout=30)
    kept, other = str(uuid.uuid4()), str(uuid.uuid4())
    answer = [
        {"event": "message", "answer": "hi", "conversation_id": kept},
        {"event": "message_end", "conversation_id": kept},
    ]
    apps.script = answer
    first = client.responses.create(model="scripted", input="one")
    apps.script = [{**event, "conversation_id": other} for event in answer]  # Dify answered in a new conversation
    for stream in (False, True):
        with pytest.raises(openai.NotFoundError) as lost:
            client.responses.create(model="scripted", input="two", previous_response_id=first.id, stream=stream)
        assert lost.value.code == "conversation_not_found" and lost.value.param == "previous_response_id"
        assert "without previous_response_id" in lost.value.message


def _codex() -> str:
    """Codex CLI (``CODEX_BIN``, else the ``PATH``). Without it, a skip with advice, or under CI a failure
    (``.ci/run`` installs it), as for the browser tests."""
    found = os.environ.get("CODEX_BIN") or shutil.which("codex")
    if found is None:
        advice = "Codex CLI not installed: npm install @openai/codex@0.169.0, then CODEX_BIN=<its .bin/codex>"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(advice)
        pytest.skip(advice)
    return found


def test_codex_exec_answers_and_resumes_through_the_responses_api(scripted_url, apps, tmp_path):
    codex_bin = _codex()
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(
        'model = "echo"\nmodel_provider = "dify"\n\n[model_providers.dify]\nname = "Dify App Relay"\n'
        f'base_url = "{scripted_url}"\nenv_key = "DIFY_RELAY_KEY"\nwire_api = "responses"\n'
        "stream_max_retries = 0\nrequest_max_retries = 0\n",  # a failed app runs once, not six times
        encoding="utf-8",
    )
    environment = {**os.environ, "CODEX_HOME": str(home), "DIFY_RELAY_KEY": ALICE}

    def codex(*args: str, succeeds: bool = True) -> str:
        command = [codex_bin, "exec", "--skip-git-repo-check", *args]
        done = subprocess.run(
            command, cwd=work, env=environment, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        assert (done.returncode == 0) is succeeds, done.stderr[-2000:]
        return done.stdout.strip() if succeeds else done.stderr

    before = len(apps.calls)
    assert codex("Say hello") == "Hello from Dify, turn 1."
    assert codex("resume", "--last", "And again") == "Hello from Dify, turn 2."  # its resent history continues
    first, second = (call for call in apps.calls[before:] if call["app_id"] == ECHO_APP)
    assert "[New message]\nSay hello" in first["query"] and second["query"] == "And again"
    assert first.get("conversation_id") is None and apps.turns[second["conversation_id"]] == 2  # one conversation
    before = len(apps.calls)
    assert "The model broke." in codex("please fail midway", succeeds=False)  # response.failed, said by Codex
    assert len(apps.calls) - before == 1
