"""Five demo apps that answer like Dify's, so the plugin can be tried and tested without a Dify instance.

One app of each kind a Dify workspace can hold, each with a fixed id (the constants below; ``python -m devkit
serve`` prints them): a chatbot, an agent, a chatflow, a workflow and a completion app. They stream Dify's real
event shapes (see ``devkit/demo/events.py``) word by word, ``token_delay`` seconds apart, use their inputs in
what they say, and fail the way Dify fails:

* an unknown app id: "app not found"; a chat-type app called without a query: "missing query" (which is what a
  chat app gets through the plugin's workflow and completion paths, as those send no query);
* a workflow or completion app called *with* a query (through the chat path) runs as itself, query ignored,
  as Dify routes by the app's own mode (``api/core/plugin/backwards_invocation/app.py``);
* inputs are checked against each app's form ("topic is required in input form"...);
* the agent refuses blocking mode ("Agent Chat App does not support blocking mode"), like Dify's agent apps;
* an unknown ``conversation_id``: "Conversation Not Exists.".

A few words in the chatbot's query trigger behaviours worth seeing in a browser:

* "markup" or "html": the answer contains ``<img src=x onerror=alert(1)>`` and ``<b>`` tags, to show the page
  escapes app text (an alert box means it does not);
* "fail": after a few words Dify's in-stream ``error`` event, as when a model call fails mid-answer;
* "crash": after a few words the stream breaks (the backend raises), as when Dify's side of the call dies.

The workflow fails its LLM node (a ``failed`` run, as Dify reports one) when its topic contains "fail".
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from devkit.daemon.process import DifyError
from devkit.demo import events as ev
from devkit.demo.inputs import Field, user_input_form, validate_inputs

CHATBOT_APP_ID = "8c2f0a6e-3b1d-4f7a-9e52-1d6c4b8a7f30"
AGENT_APP_ID = "a41e7d92-5c3b-4e8f-b6a1-2f9d0c7e5b14"
CHATFLOW_APP_ID = "c7d35b18-9e2a-4c6f-8b40-6e1a3f5d9c27"
WORKFLOW_APP_ID = "e5b9a2c4-7f1d-4a3e-9c68-0b2d4f6a8e91"
COMPLETION_APP_ID = "f2a8c6e0-4d9b-4b1f-a7e3-5c0d8b2f6a49"

CHAT_MODES = frozenset({"chat", "agent-chat", "advanced-chat"})
MARKUP_SAMPLE = "<img src=x onerror=alert(1)>"

Event = dict[str, Any]


@dataclass(frozen=True)
class DemoApp:
    """A demo app's identity, form and the sample call the console suggests for it."""

    app_id: str
    name: str
    mode: str
    """Dify's app mode: chat, agent-chat, advanced-chat (chatflow), workflow or completion."""
    path: str
    """The plugin path that serves it: chat, workflow or completion."""
    fields: tuple[Field, ...]
    opening_statement: str = ""
    suggested_questions: tuple[str, ...] = ()
    sample_query: str | None = None
    sample_inputs: tuple[tuple[str, str], ...] = ()

    @property
    def takes_query(self) -> bool:
        return self.mode in CHAT_MODES

    @property
    def workflow_based(self) -> bool:
        return self.mode in ("workflow", "advanced-chat")

    def parameters(self) -> dict[str, Any]:
        """What Dify's ``fetch_app`` returns for this app: its parameters, not its mode."""
        return {
            "opening_statement": self.opening_statement,
            "suggested_questions": list(self.suggested_questions),
            "suggested_questions_after_answer": {"enabled": self.takes_query},
            "speech_to_text": {"enabled": False},
            "text_to_speech": {"enabled": False, "voice": "", "language": ""},
            "retriever_resource": {"enabled": self.takes_query},
            "annotation_reply": {"enabled": False},
            "more_like_this": {"enabled": False},
            "user_input_form": user_input_form(self.fields, with_type=self.workflow_based),
            "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
            "file_upload": {
                "enabled": False,
                "image": {
                    "enabled": False,
                    "number_limits": 3,
                    "detail": "high",
                    "transfer_methods": ["remote_url", "local_file"],
                },
                "allowed_file_types": [],
                "allowed_file_extensions": [],
                "allowed_file_upload_methods": ["remote_url", "local_file"],
                "number_limits": 3,
            },
            "system_parameters": {
                "image_file_size_limit": 10,
                "video_file_size_limit": 100,
                "audio_file_size_limit": 50,
                "file_size_limit": 15,
                "workflow_file_upload_limit": 10,
            },
        }


DEMO_APPS: tuple[DemoApp, ...] = (
    DemoApp(
        app_id=CHATBOT_APP_ID,
        name="Demo chatbot",
        mode="chat",
        path="chat",
        fields=(Field("text-input", "name", "Your name", max_length=48),),
        opening_statement="Hi! I am the devkit's demo chatbot. I answer word by word and count our turns.",
        suggested_questions=("What can you do?", "Show me some markup", "Please fail halfway"),
        sample_query="Hello there",
    ),
    DemoApp(
        app_id=AGENT_APP_ID,
        name="Demo agent",
        mode="agent-chat",
        path="chat",
        fields=(Field("text-input", "city", "City", default="Paris", max_length=60),),
        opening_statement="I am an agent with one (pretend) weather tool.",
        suggested_questions=("Do I need an umbrella?",),
        sample_query="Do I need an umbrella?",
        sample_inputs=(("city", "Lisbon"),),
    ),
    DemoApp(
        app_id=CHATFLOW_APP_ID,
        name="Demo chatflow",
        mode="advanced-chat",
        path="chat",
        fields=(Field("select", "plan", "Your plan", default="free", options=("free", "pro", "enterprise")),),
        opening_statement="Support chatflow: ask anything about your plan.",
        suggested_questions=("How do I upgrade?",),
        sample_query="How do I upgrade?",
        sample_inputs=(("plan", "pro"),),
    ),
    DemoApp(
        app_id=WORKFLOW_APP_ID,
        name="Demo workflow (outline writer)",
        mode="workflow",
        path="workflow",
        fields=(
            Field("text-input", "topic", "Topic", required=True, max_length=80),
            Field("paragraph", "notes", "Notes", max_length=1000),
            Field("select", "tone", "Tone", default="friendly", options=("friendly", "formal", "playful")),
            Field("number", "sections", "Number of sections", default=3),
            Field("checkbox", "with_summary", "Add a summary", default=False),
        ),
        sample_inputs=(("topic", "Green tea"), ("tone", "playful")),
    ),
    DemoApp(
        app_id=COMPLETION_APP_ID,
        name="Demo completion (product blurb)",
        mode="completion",
        path="completion",
        fields=(
            Field("text-input", "product", "Product", required=True, max_length=60),
            Field("paragraph", "features", "Features", max_length=1000),
            Field("select", "style", "Style", default="short", options=("short", "detailed")),
            Field("number", "max_words", "Maximum words", default=40),
        ),
        sample_inputs=(("product", "Solar kettle"), ("features", "boils water with sunlight")),
    ),
)

_BY_ID = {app.app_id: app for app in DEMO_APPS}
_TOKEN = re.compile(r"\S+\s*")
_FAIL_AFTER_TOKENS = 4

_START = ev.Node("start", "start", "Start")
_LLM = ev.Node("llm", "llm", "LLM")
_ANSWER = ev.Node("answer", "answer", "Answer")
_END = ev.Node("end", "end", "End")

_SECTIONS = {
    "friendly": (
        "Why {t} is worth your time",
        "Getting started with {t}",
        "Common pitfalls and how to dodge them",
        "Stories from people who tried {t}",
        "Questions you might still have",
        "Your next steps",
    ),
    "formal": (
        "Introduction to {t}",
        "Background and context",
        "Current practice",
        "Analysis of the main options",
        "Recommendations",
        "Conclusion",
    ),
    "playful": (
        "{t}: the origin story",
        "Things nobody tells you about {t}",
        "{t} myths, busted",
        "How to impress your friends with {t}",
        "When {t} goes wrong",
        "The grand finale",
    ),
}


def tokens(text: str) -> list[str]:
    """Split an answer into the pieces a model would stream: each word with the whitespace after it."""
    return _TOKEN.findall(text)


def _prompt_tokens(*texts: Any) -> int:
    return 12 + sum(len(str(text).split()) for text in texts if text)


class DemoApps:
    """An ``AppBackend`` serving the five demo apps; safe to call from many threads at once."""

    apps: tuple[DemoApp, ...] = DEMO_APPS

    def __init__(self, token_delay: float = 0.03, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.token_delay = token_delay
        self._sleep = sleep
        self._lock = threading.Lock()
        self._conversations: dict[str, tuple[str, int]] = {}
        """conversation id -> (app id, turns so far)."""

    # -- AppBackend --------------------------------------------------------------------------------------------

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return self._app(app_id).parameters()

    def invoke_app(self, request: dict[str, Any]) -> Iterator[Event]:
        """Check the call as Dify does (raising ``DifyError`` at once), then return the app's events."""
        app = self._app(str(request.get("app_id", "")))
        query = request.get("query")
        streaming = request.get("response_mode") == "streaming"
        if app.takes_query and not query:
            raise DifyError("missing query")
        if app.mode == "agent-chat" and not streaming:
            raise DifyError("Agent Chat App does not support blocking mode")
        raw_inputs = request.get("inputs")
        inputs = validate_inputs(app.fields, raw_inputs if isinstance(raw_inputs, Mapping) else {})

        run = ev.Run(workflow_id=_workflow_id(app) if app.workflow_based else None)
        turn = 1
        if app.takes_query:
            run.conversation_id, turn = self._next_turn(app, request.get("conversation_id"))
        events = self._script(app, run, str(query or ""), inputs, turn)
        return events if streaming else self._blocking(app, run, events)

    # -- helpers -----------------------------------------------------------------------------------------------

    def _app(self, app_id: str) -> DemoApp:
        app = _BY_ID.get(app_id)
        if app is None:
            raise DifyError("app not found")
        return app

    def _next_turn(self, app: DemoApp, conversation_id: Any) -> tuple[str, int]:
        with self._lock:
            if not conversation_id:
                conversation_id = ev.new_id()
                turns = 0
            else:
                owner, turns = self._conversations.get(str(conversation_id), ("", 0))
                if owner != app.app_id:
                    raise DifyError("Conversation Not Exists.")
            self._conversations[str(conversation_id)] = (app.app_id, turns + 1)
            return str(conversation_id), turns + 1

    def _pause(self, index: int) -> None:
        if index and self.token_delay > 0:
            self._sleep(self.token_delay)

    def _script(self, app: DemoApp, run: ev.Run, query: str, inputs: dict[str, Any], turn: int) -> Iterator[Event]:
        if app.mode == "chat":
            return self._chatbot(run, query, inputs, turn)
        if app.mode == "agent-chat":
            return self._agent(run, query, inputs)
        if app.mode == "advanced-chat":
            return self._chatflow(run, query, inputs, turn)
        if app.mode == "workflow":
            return self._workflow(run, inputs)
        return self._completion(run, inputs)

    def _blocking(self, app: DemoApp, run: ev.Run, events: Iterator[Event]) -> Iterator[Event]:
        """Blocking mode: run to the end, then one result dict; a run error is raised, as Dify raises it."""
        answer: list[str] = []
        usage: Event = {}
        for event in events:
            kind = event.get("event")
            if kind in ("message", "agent_message"):
                answer.append(event["answer"])
            elif kind == "message_end":
                usage = event["metadata"]["usage"]
            elif kind == "error":
                raise DifyError(event["message"])
            elif kind == "workflow_finished" and app.mode == "workflow":
                yield ev.workflow_blocking_result(run, event["data"])
                return
        yield ev.chat_blocking_result(run, app.mode, "".join(answer), usage)

    def _stream_words(self, text: str, build: Callable[[str], Event]) -> Iterator[Event]:
        for index, token in enumerate(tokens(text)):
            self._pause(index)
            yield build(token)

    # -- the five apps -----------------------------------------------------------------------------------------

    def _chatbot(self, run: ev.Run, query: str, inputs: dict[str, Any], turn: int) -> Iterator[Event]:
        name = str(inputs.get("name") or "").strip()
        lowered = query.lower()
        if "markup" in lowered or "html" in lowered:
            text = (
                f"Here is some markup that must show up as text, not run: {MARKUP_SAMPLE} and <b>not bold</b>. "
                "If an alert box popped up, the page did not escape the app's answer."
            )
        else:
            greeting = (f"Hello {name}!" if name else "Hello!") if turn == 1 else "Welcome back!"
            text = (
                f"{greeting} This is turn {turn} of our conversation. You said: “{query}”. "
                "I am a demo app of the devkit, so I only repeat what I get, one word at a time."
            )
        words = tokens(text)
        for index, token in enumerate(words):
            self._pause(index)
            if index == _FAIL_AFTER_TOKENS and "fail" in lowered:
                yield ev.error(run, "[demo] The model failed halfway through the answer, as you asked.")
                return
            if index == _FAIL_AFTER_TOKENS and "crash" in lowered:
                raise DifyError("the demo app's stream broke halfway, as you asked")
            yield ev.message(run, token)
        yield ev.message_end(run, ev.usage(_prompt_tokens(query, name), len(words), run.elapsed))

    def _agent(self, run: ev.Run, query: str, inputs: dict[str, Any]) -> Iterator[Event]:
        city = str(inputs.get("city") or "Paris")
        thought_id = ev.new_id()
        yield ev.agent_thought(run, thought_id, 1)
        self._pause(1)
        yield ev.agent_thought(
            run,
            thought_id,
            1,
            thought=f"I should ask the weather tool about {city}.",
            tool="weather",
            tool_input=json.dumps({"weather": {"city": city}}),
            observation=json.dumps({"weather": f"Sunny, 21 °C in {city} (demo data)"}, ensure_ascii=False),
        )
        text = f"The weather tool says it is sunny and 21 °C in {city}, so no umbrella needed. You asked: “{query}”."
        words = tokens(text)
        self._pause(1)
        yield from self._stream_words(text, lambda token: ev.agent_message(run, token))
        yield ev.message_end(run, ev.usage(_prompt_tokens(query, city) + 40, len(words) + 12, run.elapsed))

    def _chatflow(self, run: ev.Run, query: str, inputs: dict[str, Any], turn: int) -> Iterator[Event]:
        plan = inputs.get("plan") or "free"
        start_inputs = {"sys.query": query, "sys.conversation_id": run.conversation_id, **inputs}
        text = (
            f"On the {plan} plan, here is my answer to “{query}”: a real chatflow would ask its LLM node; "
            f"this demo streams through the LLM and Answer nodes instead (turn {turn})."
        )
        words = tokens(text)
        yield ev.workflow_started(run, start_inputs)
        yield from self._node(run, _START, 1, start_inputs, start_inputs)
        llm_id, started = ev.new_id(), time.perf_counter()
        yield ev.node_started(run, _LLM, 2, llm_id, {"query": query})
        yield from self._stream_words(text, lambda token: ev.message(run, token))
        total = _prompt_tokens(query, plan) + len(words)
        yield ev.node_finished(
            run,
            _LLM,
            2,
            llm_id,
            inputs={"query": query},
            outputs={"text": text},
            elapsed_time=time.perf_counter() - started,
            total_tokens=total,
        )
        yield from self._node(run, _ANSWER, 3, {}, {"answer": text})
        data = ev.workflow_run_data(
            run, status="succeeded", outputs={"answer": text}, error_=None, total_tokens=total, total_steps=3
        )
        yield ev.workflow_finished(run, data)
        yield ev.message_end(run, ev.usage(_prompt_tokens(query, plan), len(words), run.elapsed))

    def _workflow(self, run: ev.Run, inputs: dict[str, Any]) -> Iterator[Event]:
        topic = str(inputs["topic"])
        tone = str(inputs.get("tone") or "friendly")
        titles = _SECTIONS.get(tone, _SECTIONS["friendly"])
        count = min(max(int(inputs.get("sections") or 3), 1), len(titles))
        lines = [f"Outline for “{topic}” ({tone} tone, {count} sections):"]
        lines += [f"{number}. {title.format(t=topic)}" for number, title in enumerate(titles[:count], 1)]
        if inputs.get("notes"):
            lines.append(f"Notes taken into account: {inputs['notes']}")
        if inputs.get("with_summary"):
            lines.append(f"Summary: {count} sections that take a reader from zero to {topic} fan.")
        text = "\n".join(lines)
        words = tokens(text)
        fails = "fail" in topic.lower()

        yield ev.workflow_started(run, inputs)
        yield from self._node(run, _START, 1, inputs, inputs)
        llm_id, started = ev.new_id(), time.perf_counter()
        yield ev.node_started(run, _LLM, 2, llm_id, {"topic": topic})
        streamed = words[:_FAIL_AFTER_TOKENS] if fails else words
        yield from self._stream_words("".join(streamed), lambda token: ev.text_chunk(run, token, ["llm", "text"]))
        total = _prompt_tokens(topic, inputs.get("notes")) + len(streamed)
        if fails:
            message = "[demo] The LLM node failed, as the topic asked."
            yield ev.node_finished(
                run,
                _LLM,
                2,
                llm_id,
                inputs={"topic": topic},
                outputs=None,
                elapsed_time=time.perf_counter() - started,
                status="failed",
                error_=message,
            )
            data = ev.workflow_run_data(
                run, status="failed", outputs={}, error_=message, total_tokens=total, total_steps=2
            )
            yield ev.workflow_finished(run, data)
            return
        yield ev.node_finished(
            run,
            _LLM,
            2,
            llm_id,
            inputs={"topic": topic},
            outputs={"text": text},
            elapsed_time=time.perf_counter() - started,
            total_tokens=total,
        )
        yield from self._node(run, _END, 3, {"text": text}, {"text": text})
        data = ev.workflow_run_data(
            run, status="succeeded", outputs={"text": text}, error_=None, total_tokens=total, total_steps=3
        )
        yield ev.workflow_finished(run, data)

    def _completion(self, run: ev.Run, inputs: dict[str, Any]) -> Iterator[Event]:
        product = str(inputs["product"])
        features = str(inputs.get("features") or "").strip().rstrip(".")
        sentences = [f"Meet {product}: {features}." if features else f"Meet {product}."]
        sentences.append(f"{product} is made for people who want things done simply and well.")
        if inputs.get("style") == "detailed":
            sentences.append(f"Every part of {product} was designed, tested and improved with real users.")
            sentences.append("Order today and see the difference for yourself.")
        limit = max(int(inputs.get("max_words") or 40), 5)
        text = " ".join(" ".join(sentences).split()[:limit])
        words = tokens(text)
        yield from self._stream_words(text, lambda token: ev.message(run, token))
        yield ev.message_end(run, ev.usage(_prompt_tokens(product, features), len(words), run.elapsed))

    def _node(
        self, run: ev.Run, node: ev.Node, index: int, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> Iterator[Event]:
        """A node that starts and finishes at once (start, answer and end nodes)."""
        node_execution_id = ev.new_id()
        yield ev.node_started(run, node, index, node_execution_id, inputs)
        self._pause(1)
        yield ev.node_finished(run, node, index, node_execution_id, inputs=inputs, outputs=outputs, elapsed_time=0.0)


def _workflow_id(app: DemoApp) -> str:
    """A stable workflow id per workflow-based app, as Dify keeps one published workflow per app."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"devkit-demo-workflow:{app.app_id}"))
