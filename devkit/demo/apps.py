"""Five demo apps that answer like Dify's, so the plugin can be tried and tested without a Dify instance.

One app of each kind a Dify workspace can hold, each with a fixed id (the constants below; ``python -m devkit
serve`` prints them): a chatbot, an agent, a chatflow, a workflow and a completion app. They stream Dify's real
event shapes (``devkit/demo/events.py``) word by word, ``token_delay`` seconds apart, use their inputs in what they
say, and fail the way Dify fails (all as measured on Dify 1.16.0-rc1):

* calls are refused in Dify's order and words (``events.app_of``, ``events.accepted``): an unknown app, a chat-type
  app without a query (what the plugin's workflow and completion paths send it), an agent in blocking mode, a
  ``conversation_id`` that is not a UUID (Dify's generic 500), or unknown or of another app (the chatbot and the
  agent refuse it with an *empty* message; the chatflow runs in a *new* conversation); then the inputs, checked as
  Dify checks them (``devkit/demo/inputs.py``);
* a workflow or completion app called *with* a query (the chat path) runs as itself, query ignored, as Dify routes
  by the app's own mode (``api/core/plugin/backwards_invocation/app.py``);
* a chatflow ends ``message_end``, then ``workflow_finished``;
* ``user`` is ignored: every plugin call runs as the workspace's one default end user, so a conversation started by
  one caller can be continued by any caller that knows its id.

Triggers: words in the query (chat-type apps), the ``topic`` input (workflow) or the ``product`` input (completion)
make an app behave as Dify does in rarer cases. They combine ("form-filled paused" answers the first form, then
stops at the next one). Any app:

* ``crash``: after a few events the stream breaks (the backend raises), as when Dify's side of the call dies;
* ``truncated``: the stream ends without its final event (no ``message_end``, ``workflow_finished``...), as when
  Dify's worker is killed mid-answer; in blocking mode Dify's "queue listening stopped unexpectedly.";
* ``silent``: after the first event the app says nothing for ``silence`` seconds (300 by default: longer than the
  daemon's 240 s read timeout and the SDK's 250 s), then goes on;
* ``picture`` (agent and workflow): a small PNG stored as a Dify tool file, linked as Dify links it
  (``ToolFileManager.sign_file``) and served while the link is fresh (5 minutes). The agent's second tool,
  ``weather_map``, draws it: a ``message_file`` event (an ``image`` belonging to the assistant) comes before the
  ``agent_thought`` that lists it in ``message_files`` (only agents send ``message_file``: a plain chatbot has no
  tool to make a file). The workflow's ``Cover image`` tool node makes ``cover.png``: the run's ``cover`` output, a
  list of one serialized ``File`` (``__dify__file__``, ``tool_file``), repeated in the ``files`` of the End node's
  ``node_finished`` and of ``workflow_finished``.

Chatbot, agent and completion (Dify's "easy UI" apps):

* ``markup`` or ``html`` (chatbot): the answer holds ``<img src=x onerror=alert(1)>`` and ``<b>`` tags, to show the
  page escapes app text; ``markdown`` (chatbot): an answer in markdown (bold, code, a list, a code block, a table, a
  link) with hostile bits (raw HTML, a ``javascript:`` link, an image), to show it renders safely as it streams;
* ``fail``: after a few words the in-stream ``error`` event (``completion_request_error``) of a model call failing;
* before the first word, a model error: ``model-error`` (``completion_request_error``), ``quota``
  (``provider_quota_exceeded``), ``no-credentials`` (``provider_not_initialize``), ``unsupported-model``
  (``model_currently_not_support``): streaming, that one ``error`` event; blocking, Dify's generic HTTP 500;
* ``replace``: the answer, then ``message_replace`` (output moderation rewrote it), then ``message_end``;
* ``tts`` (chatbot): ``tts_message`` audio among the words, and after ``message_end`` the last audio and
  ``tts_message_end``, as with text-to-speech auto-play on;
* ``think`` (chatbot): the answer starts with the model's reasoning in ``<think>…</think>``, as reasoning models
  (DeepSeek-R1 and its kin) stream it through Dify.

Chatflow and workflow:

* ``fail`` or any model-error word: the LLM node fails; ``workflow_finished`` (``failed``), then a chatflow's
  ``error`` ("Run failed: ...", ``invalid_param``) and no ``message_end``. Blocking: a workflow returns its failed
  result, a chatflow is refused with HTTP 400 "Run failed: ...";
* ``paused``: the run stops at a human-input node (``human_input_required``, ``workflow_paused``, nothing after);
  ``form-filled`` / ``form-timeout``: a human-input node whose form was answered (``human_input_form_filled``) or
  expired (``human_input_form_timeout``), as a resumed run streams it, then the run goes on;
* ``stopped``: ``workflow_finished`` with status ``stopped`` ("Stopped by user.") mid-answer;
* ``partial``: a tool node fails but its error strategy lets the run go on (``exception``, ``partial-succeeded``);
* ``retry``: the LLM node fails once and is retried (``node_retry``);
* ``iterate`` / ``loop``: an iteration (``iteration_started``, ``_next``, ``_completed``) or a loop (``loop_*``)
  whose inner node events carry ``iteration_id`` / ``loop_id``; ``agent-log``: an agent node's ``agent_log`` steps;
* ``replace``: the streamed text replaced afterwards (``text_replace``; a chatflow's ``message_replace``);
* ``tts`` (chatflow): ``tts_message`` audio chunks, then after ``message_end`` the last audio and ``tts_message_end``.

Deviations, on purpose: a paused run in blocking mode returns the run's result with status ``paused`` (a workflow)
or the answer so far (a chatflow), a shape not modelled on Dify's; the apps read the files a plugin uploads
(``tool_file`` inputs), which Dify 1.16.0-rc1 refuses as "ToolFile <id> not found" (the upload belongs to another
end user of the workspace), and ``completion_fixed=True`` runs the completion app, which that Dify fails with its
generic 500 for every plugin call. ``tests/real_dify/player.py`` (``RecordedDify``) answers as that Dify does.
"""

from __future__ import annotations

import itertools
import json
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from devkit.daemon.files import FileService, ToolFile
from devkit.daemon.process import DifyError, DifyServerError
from devkit.demo import events as ev
from devkit.demo.events import CHAT_MODES as CHAT_MODES
from devkit.demo.events import QUEUE_STOPPED as QUEUE_STOPPED
from devkit.demo.inputs import Field, user_input_form, validate_inputs
from devkit.demo.remote import RemoteFiles

CHATBOT_APP_ID = "8c2f0a6e-3b1d-4f7a-9e52-1d6c4b8a7f30"
AGENT_APP_ID = "a41e7d92-5c3b-4e8f-b6a1-2f9d0c7e5b14"
CHATFLOW_APP_ID = "c7d35b18-9e2a-4c6f-8b40-6e1a3f5d9c27"
WORKFLOW_APP_ID = "e5b9a2c4-7f1d-4a3e-9c68-0b2d4f6a8e91"
COMPLETION_APP_ID = "f2a8c6e0-4d9b-4b1f-a7e3-5c0d8b2f6a49"

MARKUP_SAMPLE = "<img src=x onerror=alert(1)>"
MARKDOWN_SAMPLE = """Here is **markdown**, as real apps answer: `inline code`, a [link](https://dify.ai) and a list:

- first point
- second point

```python
print("a code block")
```

| plan | price |
|---|---|
| free | 0 |

And what must never run: <script>alert(1)</script> [a trap](javascript:alert(1)) ![a pixel](https://evil.example/p.png)
"""

THINKING_SAMPLE = (
    "<think>\nThe user asked: “{query}”. A demo app has no real thoughts, so I will say that briefly.\n</think>\n\n"
    "I thought about it first: this answer came after a reasoning block, as reasoning models send them."
)

DEMO_MODEL = "gpt-4o-mini"
MODEL_ERRORS: dict[str, tuple[str, str]] = {
    "model-error": ("completion_request_error", "[demo] The model provider refused the request, as you asked."),
    "quota": ("provider_quota_exceeded", ""),
    "no-credentials": ("provider_not_initialize", f"Model {DEMO_MODEL} credentials is not initialized."),
    "unsupported-model": ("model_currently_not_support", "Model Currently Not Support"),
}
"""Trigger word -> (the ``error`` event's code, the exception's description) for a model call that fails."""

FAIL_MESSAGE = "[demo] The model failed halfway through the answer, as you asked."
CRASH_MESSAGE = "the demo app's stream broke halfway, as you asked"
STOPPED_MESSAGE = "Stopped by user."
"""``QueueStopEvent.get_stop_reason`` for a run stopped from the API or the studio."""
SILENCE = 300.0
QUOTA_NODE_ERROR = "[demo] The model's quota is used up."
REPLACED = "[demo] This answer was replaced by output moderation."
"""What output moderation makes of an answer (``replace``)."""

Event = dict[str, Any]
Inputs = dict[str, Any]
Words = frozenset[str]
"""The trigger words of a call (``triggers``)."""
_FINAL_EVENTS = frozenset({"message_end", "workflow_finished", "workflow_paused", "error"})
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class DemoApp:
    """A demo app's identity, form and the sample call the console suggests for it."""

    app_id: str
    name: str
    mode: str
    """Dify's app mode: chat, agent-chat, advanced-chat (chatflow), workflow or completion."""
    slug: str
    """Its name in the demo endpoint's ``allowed_apps``, so that links read ``/chat/chatbot``."""
    fields: tuple[Field, ...]
    opening_statement: str = ""
    suggested_questions: tuple[str, ...] = ()
    sample_query: str | None = None
    sample_inputs: tuple[tuple[str, str], ...] = ()
    trigger_input: str | None = None
    """For apps without a query, the input whose words trigger the demo behaviours."""

    @property
    def takes_query(self) -> bool:
        return self.mode in CHAT_MODES

    @property
    def path(self) -> str:
        """The plugin path that serves it: chat, workflow or completion."""
        return "chat" if self.takes_query else self.mode

    @property
    def workflow_based(self) -> bool:
        return self.mode in ("workflow", "advanced-chat")

    def parameters(self) -> dict[str, Any]:
        """What Dify's ``fetch_app`` returns for this app: its parameters, not its mode."""
        values = {
            "opening_statement": self.opening_statement,
            "suggested_questions": list(self.suggested_questions),
            "suggested_questions_after_answer": {"enabled": self.takes_query},
            "retriever_resource": {"enabled": self.takes_query},
            "user_input_form": user_input_form(self.fields, with_type=self.workflow_based),
        }
        return ev.filled(ev.TEMPLATES["app parameters"], values)


DEMO_APPS: tuple[DemoApp, ...] = (
    DemoApp(
        app_id=CHATBOT_APP_ID,
        name="Demo chatbot",
        mode="chat",
        slug="chatbot",
        fields=(Field("text-input", "name", "Your name", max_length=48),),
        opening_statement="Hi! I am the devkit's demo chatbot. I answer word by word and count our turns.",
        suggested_questions=("What can you do?", "Answer in markdown", "Show me some markup", "Please fail halfway"),
        sample_query="Hello there",
    ),
    DemoApp(
        app_id=AGENT_APP_ID,
        name="Demo agent",
        mode="agent-chat",
        slug="agent",
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
        slug="chatflow",
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
        slug="outline",
        fields=(
            Field("text-input", "topic", "Topic", required=True, max_length=80),
            Field("paragraph", "notes", "Notes", max_length=1000),
            Field("select", "tone", "Tone", default="friendly", options=("friendly", "formal", "playful")),
            Field("number", "sections", "Number of sections", default=3),
            Field("checkbox", "with_summary", "Add a summary", default=False),
            Field(
                "file",
                "attachment",
                "Attachment (read by the outline)",
                file_types=("document", "image", "custom"),
                file_extensions=(".txt", ".md", ".csv", ".json"),
            ),
            Field(
                "file-list",
                "sources",
                "Sources",
                max_length=3,
                file_types=("custom",),
                file_extensions=(".txt", ".md", ".csv", ".json", ".pdf"),
            ),
        ),
        sample_inputs=(("topic", "Green tea"), ("tone", "playful")),
        trigger_input="topic",
    ),
    DemoApp(
        app_id=COMPLETION_APP_ID,
        name="Demo completion (product blurb)",
        mode="completion",
        slug="blurb",
        fields=(
            Field("text-input", "product", "Product", required=True, max_length=60),
            Field("paragraph", "features", "Features", max_length=1000),
            Field("select", "style", "Style", default="short", options=("short", "detailed")),
            Field("number", "max_words", "Maximum words", default=40),
        ),
        sample_inputs=(("product", "Solar kettle"), ("features", "boils water with sunlight")),
        trigger_input="product",
    ),
)

DEMO_ALLOWED_APPS = ", ".join(f"{app.path}:{app.slug}={app.app_id}" for app in DEMO_APPS)
"""The demo endpoint serves each demo app by a name and its type, as an admin would set it up."""
DEMO_SETTINGS: dict[str, str] = {"allowed_apps": DEMO_ALLOWED_APPS}

_BY_ID = {app.app_id: app for app in DEMO_APPS}
_TOKEN = re.compile(r"\S+\s*")
_FAIL_AFTER_TOKENS = 4

_START = ev.Node("start", "start", "Start")
_LLM = ev.Node("llm", "llm", "LLM")
_ANSWER = ev.Node("answer", "answer", "Answer")
_END = ev.Node("end", "end", "End")
_HUMAN = ev.Node("human_review", "human-input", "Human review")
_FORM = "Please review the draft answer and approve it."
_FORM_ACTIONS = (("approve", "Approve"), ("reject", "Reject"))
_FORM_TIME = 24 * 3600
"""Seconds a human-input form waits for its answer."""
_ITERATION = ev.Node("iteration", "iteration", "Iteration")
_LOOP = ev.Node("loop", "loop", "Loop")
_INNER = ev.Node("inner_code", "code", "Code")
_AGENT = ev.Node("agent", "agent", "Agent")
_TOOL = ev.Node("weather_tool", "tool", "Weather tool")
_TOOL_DOWN = "[demo] The weather service is down."
_COVER = ev.Node("cover_image", "tool", "Cover image")
IMAGE_TOOL_OBSERVATION = (
    "image has been created and sent to user already, you do not need to create it, just tell the user to check it now."
)
"""What Dify's tool engine tells an agent's model about an image its tool made."""

_SECTIONS = {
    "friendly": ("Why {t} is worth your time", "Getting started with {t}", "Common pitfalls and how to dodge them",
                 "Stories from people who tried {t}", "Questions you might still have", "Your next steps"),
    "formal": ("Introduction to {t}", "Background and context", "Current practice", "Analysis of the main options",
               "Recommendations", "Conclusion"),
    "playful": ("{t}: the origin story", "Things nobody tells you about {t}", "{t} myths, busted",
                "How to impress your friends with {t}", "When {t} goes wrong", "The grand finale"),
}  # fmt: skip


def tokens(text: str) -> list[str]:
    """Split an answer into the pieces a model would stream: each word with the whitespace after it."""
    return _TOKEN.findall(text)


def triggers(text: str) -> frozenset[str]:
    """The trigger words of a query or input (lower-cased words; hyphenated ones stay whole)."""
    return frozenset(_WORD.findall(text.lower()))


def _prompt_tokens(*texts: Any) -> int:
    return 12 + sum(len(str(text).split()) for text in texts if text)


def _model_failure(words: frozenset[str]) -> tuple[str, str] | None:
    """The model error the trigger words ask for, as (error code, description), if any."""
    for word, failure in MODEL_ERRORS.items():
        if word in words:
            return failure
    return None


class DemoApps:
    """An ``AppBackend`` serving the five demo apps; safe to call from many threads at once."""

    apps: tuple[DemoApp, ...] = DEMO_APPS

    def __init__(
        self,
        token_delay: float = 0.03,
        *,
        sleep: Callable[[float], None] = time.sleep,
        silence: float = SILENCE,
        completion_fixed: bool = False,
    ) -> None:
        self.token_delay = token_delay
        self.silence = silence
        """How long the ``silent`` trigger keeps an app quiet after its first event, in seconds."""
        self.completion_fixed = completion_fixed
        """Play a Dify that runs completion apps for plugins: 1.16 and earlier fail every such call with their
        generic HTTP 500 (a ``KeyError`` on ``query`` in the completion generator), as measured."""
        self.files = FileService()
        """Dify's files service: what plugins upload (``session.file.upload``) lands here as tool files, the apps
        read them, and the files the apps make (``picture``) are kept and served here too."""
        self.network: Callable[[str], tuple[bytes, str] | None] | None = None
        """The network Dify's proxy reaches, beyond ``reachable``: the devkit's daemon answers the plugin's own
        public endpoint through it (``PluginProcess.fetch``), where the plugin serves the files a client sent."""
        self.reachable: dict[str, bytes] = {}
        """Other URLs that answer, and what they serve: every other address is unreachable, as for Dify."""
        self._sleep = sleep
        self._conversations = ev.Conversations()

    def turns(self) -> dict[str, int]:
        """Each conversation Dify holds, by id, with its number of turns so far."""
        return self._conversations.turns()

    # -- AppBackend --------------------------------------------------------------------------------------------

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return ev.app_of(_BY_ID, {"app_id": app_id}).parameters()

    def invoke_app(self, request: dict[str, Any]) -> Iterator[Event]:
        """Check the call as Dify does, in Dify's order (raising ``DifyError`` at once), then return the events."""
        app = ev.app_of(_BY_ID, request)
        if app.mode == "completion" and not self.completion_fixed:
            raise DifyServerError("KeyError: 'query'")  # Dify's plugin path calls the generator without a query
        query, streaming, conversation_id, sent = ev.accepted(app.app_id, app.mode, request, self._conversations)
        inputs = validate_inputs(app.fields, sent, tool_files=self.files.files, remote=self.remote())
        run = ev.Run(mode=app.mode, workflow_id=_workflow_id(app) if app.workflow_based else None, app_id=app.app_id)
        turn = 1
        if app.takes_query:
            run.conversation_id, turn = self._conversations.next_turn(app.app_id, conversation_id)
        words = triggers(query if app.takes_query else str(inputs.get(app.trigger_input or "") or ""))
        events = self._shaped(self._script(app, run, query, inputs, turn, words), words)
        return events if streaming else self._blocking(app, run, events)

    def remote(self) -> RemoteFiles:
        """The files Dify fetches by URL, as this demo workspace's network answers them."""
        return RemoteFiles(self.reachable, self.files.base_url, fetch=self.network)

    def picture(self, filename: str) -> ToolFile:
        """A picture a tool made, kept as Dify keeps tool files (the same file store plugins upload to)."""
        return self.files.create_tool_file(filename, SUN_PICTURE, "image/png")

    # -- helpers -----------------------------------------------------------------------------------------------

    def _pause(self, index: int) -> None:
        if index and self.token_delay > 0:
            self._sleep(self.token_delay)

    def _shaped(self, events: Iterator[Event], words: frozenset[str]) -> Iterator[Event]:
        """The behaviours any app can be asked for: ``silent``, ``crash`` and ``truncated``."""
        for count, event in enumerate(events, 1):
            if "truncated" in words and event.get("event") in _FINAL_EVENTS:
                return
            if "crash" in words and count > _FAIL_AFTER_TOKENS:
                raise DifyError(CRASH_MESSAGE)
            yield event
            if count == 1 and "silent" in words:
                self._sleep(self.silence)

    def _script(
        self, app: DemoApp, run: ev.Run, query: str, inputs: dict[str, Any], turn: int, words: frozenset[str]
    ) -> Iterator[Event]:
        apps = {"chat": self._chatbot, "agent-chat": self._agent, "advanced-chat": self._chatflow}
        apps.update(workflow=self._workflow, completion=self._completion)
        return apps[app.mode](run, query, inputs, turn, words)

    def _blocking(self, app: DemoApp, run: ev.Run, events: Iterator[Event]) -> Iterator[Event]:
        """Blocking mode: run to the end, then one result (``ev.blocking_result``). A paused run ends there: a
        workflow with its run's result, status ``paused``, a chatflow with the answer so far."""

        def ended() -> Iterator[Event]:
            for event in events:
                if event.get("event") != "workflow_paused":
                    yield event
                elif app.mode == "workflow":
                    yield ev.workflow_finished(run, "paused", {}, None, total_tokens=0, total_steps=0)
                else:
                    yield ev.message_end(run, ev.usage(0, 0, run.elapsed))

        yield ev.blocking_result(app.mode, ended())

    def _easy_ui_answer(
        self, run: ev.Run, text: str, kind: str, words: frozenset[str], prompt_tokens: int, extra_tokens: int = 0
    ) -> Iterator[Event]:
        """The answer of a chatbot, agent or completion app (``kind``: message or agent_message), with the easy-UI
        triggers applied; ``extra_tokens``: completion tokens spent besides the answer's (an agent's thoughts)."""
        failure = _model_failure(words)
        if failure is not None:
            yield ev.error(run, *failure)
            return
        pieces = tokens(text)
        for index, token in enumerate(pieces):
            self._pause(index)
            if index == _FAIL_AFTER_TOKENS and "fail" in words:
                yield ev.error(run, "completion_request_error", FAIL_MESSAGE)
                return
            yield ev.message(run, token) if kind == "message" else ev.event(run, kind, answer=token)
            if "tts" in words and index % 4 == 3:
                yield ev.tts_message(run, _audio(token))
        if "replace" in words:
            yield ev.event(run, "message_replace", answer=REPLACED)
        yield ev.message_end(run, ev.usage(prompt_tokens, len(pieces) + extra_tokens, run.elapsed))
        if "tts" in words:
            yield from _last_audio(run, pieces)

    # -- the five apps -----------------------------------------------------------------------------------------

    def _chatbot(self, run: ev.Run, query: str, inputs: Inputs, turn: int, words: Words) -> Iterator[Event]:
        name = str(inputs.get("name") or "").strip()
        if "markdown" in words:
            text = MARKDOWN_SAMPLE
        elif "think" in words:
            text = THINKING_SAMPLE.format(query=query)
        elif "markup" in words or "html" in words:
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
        return self._easy_ui_answer(run, text, "message", words, _prompt_tokens(query, name))

    def _agent(self, run: ev.Run, query: str, inputs: Inputs, turn: int, words: Words) -> Iterator[Event]:
        city = str(inputs.get("city") or "Paris")
        tools = _model_failure(words) is None
        if tools:
            weather = json.dumps({"weather": f"Sunny, 21 °C in {city} (demo data)"}, ensure_ascii=False)
            yield from self._tool_step(run, 1, "weather", f"I should ask the weather tool about {city}.", city, weather)
        if tools and "picture" in words:
            thought = f"A map makes it clearer: I will draw the weather over {city}."
            observation = json.dumps({"weather_map": IMAGE_TOOL_OBSERVATION})
            yield from self._tool_step(
                run, 2, "weather_map", thought, city, observation, f"weather-map-{_slug(city)}.png"
            )
        text = f"The weather tool says it is sunny and 21 °C in {city}, so no umbrella needed. You asked: “{query}”."
        if "picture" in words and tools:
            text += " The weather map is above."
        yield from self._easy_ui_answer(run, text, "agent_message", words, _prompt_tokens(query, city) + 40, 12)

    def _tool_step(
        self, run: ev.Run, position: int, tool: str, thought: str, city: str, observation: str, picture: str = ""
    ) -> Iterator[Event]:
        """An agent step: Dify announces it empty first, then sends it again filled in. An image tool's ``picture``
        is announced in between (``message_file``), and the step lists it in ``message_files``."""
        thought_id, files = ev.new_id(), []
        yield ev.event(run, "agent_thought", id=thought_id, position=position)
        self._pause(1)
        if picture:
            url = self.files.preview_url(self.picture(picture))
            files.append(ev.event(run, "message_file", id=ev.new_id(), type="image", url=url))
            yield files[-1]
        step = {"thought": thought, "tool_input": json.dumps({tool: {"city": city}}), "observation": observation}
        step.update(tool=tool, tool_labels={tool: {"en_US": tool.replace("_", " ").title()}})
        yield ev.event(
            run, "agent_thought", id=thought_id, position=position, **step, message_files=[file["id"] for file in files]
        )
        self._pause(1)

    def _completion(self, run: ev.Run, query: str, inputs: Inputs, turn: int, words: Words) -> Iterator[Event]:
        product = str(inputs["product"])
        features = str(inputs.get("features") or "").strip().rstrip(".")
        sentences = [f"Meet {product}: {features}." if features else f"Meet {product}."]
        sentences.append(f"{product} is made for people who want things done simply and well.")
        if inputs.get("style") == "detailed":
            sentences.append(f"Every part of {product} was designed, tested and improved with real users.")
            sentences.append("Order today and see the difference for yourself.")
        limit = max(int(inputs.get("max_words") or 40), 5)
        text = " ".join(" ".join(sentences).split()[:limit])
        return self._easy_ui_answer(run, text, "message", words, _prompt_tokens(product, features))

    def _chatflow(self, run: ev.Run, query: str, inputs: Inputs, turn: int, words: Words) -> Iterator[Event]:
        plan = inputs.get("plan") or "free"
        system = ev.system_inputs(run, query=query, dialogue_count=turn)
        text = (
            f"On the {plan} plan, here is my answer to “{query}”: a real chatflow would ask its LLM node; "
            f"this demo streams through the LLM and Answer nodes instead (turn {turn})."
        )
        return _Graph(self, run, words, chat=True).run(inputs, system, {"query": query}, text, [query, plan])

    def _workflow(self, run: ev.Run, query: str, inputs: Inputs, turn: int, words: Words) -> Iterator[Event]:
        topic = str(inputs["topic"])
        tone = str(inputs.get("tone") or "friendly")
        titles = _SECTIONS.get(tone, _SECTIONS["friendly"])
        count = min(max(int(inputs.get("sections") or 3), 1), len(titles))
        lines = [f"Outline for “{topic}” ({tone} tone, {count} sections):"]
        lines += [f"{number}. {title.format(t=topic)}" for number, title in enumerate(titles[:count], 1)]
        # What follows the list is a paragraph of its own each (in markdown, a line right after an item continues it).
        after: list[str] = []
        if inputs.get("notes"):
            after.append(f"Notes taken into account: {inputs['notes']}")
        if inputs.get("with_summary"):
            after.append(f"Summary: {count} sections that take a reader from zero to {topic} fan.")
        if inputs.get("attachment"):
            after.append(self._read_attachment(inputs["attachment"]))
        for source in inputs.get("sources") or []:
            after.append("Source. " + self._read_attachment(source))
        text = "\n".join(lines) + "".join(f"\n\n{paragraph}" for paragraph in after)
        graph = _Graph(self, run, words, chat=False)
        return graph.run(inputs, ev.system_inputs(run), {"topic": topic}, text, [topic, inputs.get("notes")])

    def _read_attachment(self, value: dict[str, Any]) -> str:
        """What the app read of a file: name, size, type and, for text, the first line (a node reads a remote file
        with a GET, during the run)."""
        if value.get("transfer_method") == "remote_url":
            url = str(value.get("url") or value.get("remote_url"))
            answered = self.remote().content(url)
            if answered is None:
                return f"Error downloading file: HTTP request failed with status code 404 for {url}"
            content, mimetype = answered
            name = str(value.get("filename") or url.rsplit("/", 1)[-1])
        else:
            stored = self.files.files[str(value.get("tool_file_id"))]  # validate_inputs refused unknown ids
            content, mimetype, name = stored.content, stored.mimetype, stored.name
        report = f"Attachment: {name} ({len(content)} bytes, {mimetype})"
        if mimetype.startswith("text/") or mimetype == "application/json":
            first = content.decode("utf-8", "replace").splitlines()[:1]
            report += f", first line: “{first[0] if first else ''}”"
        return report


class _Graph:
    """One run of a workflow-based demo app (chatflow or workflow): Start, optional nodes the triggers ask for,
    the LLM node that streams the answer, then Answer (chatflow) or End (workflow)."""

    def __init__(self, apps: DemoApps, run: ev.Run, words: Words, *, chat: bool) -> None:
        self.apps = apps
        self.run_ = run
        self.words = words
        self.chat = chat
        self.index = itertools.count(1)
        self.steps = 0
        self.exceptions = 0

    def run(
        self, start_inputs: Inputs, system: Inputs, llm: Inputs, text: str, prompt: Iterable[Any]
    ) -> Iterator[Event]:
        """``start_inputs`` are the form's (the Start node's inputs and outputs); the run's own inputs add Dify's
        ``system`` variables to them; ``llm``: the LLM node's inputs; ``prompt``: what its prompt is made of."""
        run, words = self.run_, self.words
        data = {"id": run.workflow_run_id, "workflow_id": run.workflow_id, "inputs": {**start_inputs, **system}}
        yield ev.event(run, "workflow_started", {**data, "created_at": run.created_at})
        yield from self._node(_START, start_inputs, start_inputs, pause=True)
        if "form-filled" in words:
            yield from self._form(filled=True)
        if "form-timeout" in words:
            yield from self._form(filled=False)
        if "paused" in words:
            yield from self._pause_at_form()
            return
        if "iterate" in words:
            yield from self._container("iteration", _ITERATION, ["tea", "coffee", "cocoa"])
        if "loop" in words:
            yield from self._container("loop", _LOOP, [1, 2, 3])
        if "agent-log" in words:
            yield from self._node(_AGENT, {"query": "weather?"}, {"text": "Sunny"}, inside=self._agent_logs)
        if "partial" in words:
            self.exceptions += 1  # a tool node fails, but its error strategy lets the run go on
            failed = {"error_message": _TOOL_DOWN, "error_type": "ToolInvokeError"}
            yield from self._node(_TOOL, {"city": "Paris"}, failed, status="exception", error=_TOOL_DOWN)
        yield from self._llm(llm, text, prompt)

    def _llm(self, llm_inputs: Inputs, text: str, prompt: Iterable[Any]) -> Iterator[Event]:
        """The LLM node streams the answer, then the run ends (or fails, or is stopped) as the triggers say."""
        run, words, chat = self.run_, self.words, self.chat
        model = _model_failure(words)
        failure, stopped = "fail" in words or model is not None, "stopped" in words
        execution_id, index, started = ev.new_id(), next(self.index), time.perf_counter()
        self.steps += 1
        yield ev.node_started(run, _LLM, index, execution_id, llm_inputs)

        def finished(outputs: Event | None, **data: Any) -> Event:
            elapsed = time.perf_counter() - started
            return ev.node_finished(run, _LLM, index, execution_id, llm_inputs, outputs, elapsed=elapsed, **data)

        if "retry" in words:
            late = "[demo] The model did not answer in time; retrying."
            yield finished(None, status="retry", error=late, retry_index=1)
        pieces = tokens(text)
        streamed = pieces[:_FAIL_AFTER_TOKENS] if failure or stopped else pieces
        for number, token in enumerate(streamed):
            self.apps._pause(number)
            if chat:
                yield ev.message(run, token, ["llm", "text"])
            else:
                yield ev.event(run, "text_chunk", {"text": token, "from_variable_selector": ["llm", "text"]})
            if chat and "tts" in words and number % 4 == 3:
                yield ev.tts_message(run, _audio(token))
        total = _prompt_tokens(*prompt) + len(streamed)
        if failure:
            # A model error fails the LLM node with the model's text; the run takes the node's error as its own.
            message = (model[1] or QUOTA_NODE_ERROR) if model else "[demo] The LLM node failed, as you asked."
            yield finished(None, status="failed", error=message)
            yield self._finished("failed", {}, message, total)
            if chat:
                yield ev.error(run, "invalid_param", f"Run failed: {message}")
            return
        if stopped:
            yield self._finished("stopped", {}, STOPPED_MESSAGE, total)
            if chat:
                yield ev.message_end(run, ev.usage(_prompt_tokens(*prompt), len(streamed), run.elapsed))
            return
        yield finished({"text": text}, total_tokens=total)
        if "replace" in words:
            text = REPLACED
            if chat:
                yield ev.event(run, "message_replace", answer=text)
            else:
                yield ev.event(run, "text_replace", {"text": text})
        outputs = {"answer": text} if chat else {"text": text}
        if "picture" in words and not chat:
            outputs["cover"] = yield from self._cover_image()
        end, end_inputs = (_ANSWER, {}) if chat else (_END, {"text": text})
        yield from self._node(end, end_inputs, outputs, pause=True)
        ended = self._finished("partial-succeeded" if self.exceptions else "succeeded", outputs, None, total)
        if chat:  # measured: a chatflow's message_end comes before its workflow_finished
            yield ev.message_end(run, ev.usage(_prompt_tokens(*prompt), len(pieces), run.elapsed))
        yield ended
        if chat and "tts" in words:
            yield from _last_audio(run, pieces)

    def _finished(self, status: str, outputs: Inputs, error: str | None, total: int) -> Event:
        counts = {"total_tokens": total, "total_steps": self.steps, "exceptions_count": self.exceptions}
        return ev.workflow_finished(self.run_, status, outputs, error, **counts)

    def _node(
        self,
        node: ev.Node,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        place: Event | None = None,
        *,
        pause: bool = False,
        inside: Callable[[str], Iterable[Event]] = lambda _: (),
        **finished: Any,
    ) -> Iterator[Event]:
        """A node that starts and finishes at once, with the events ``inside`` it (given its execution id) in between;
        ``pause``: a token's delay before it finishes; ``finished``: its status and error."""
        execution_id, index = ev.new_id(), next(self.index)
        self.steps += 1
        yield ev.node_started(self.run_, node, index, execution_id, inputs, place)
        yield from inside(execution_id)
        if pause:
            self.apps._pause(1)
        yield ev.node_finished(self.run_, node, index, execution_id, inputs, outputs, place, **finished)

    def _form(self, *, filled: bool) -> Iterator[Event]:
        """A human-input node whose form was answered or expired, as a resumed run streams it."""
        about = {"node_id": _HUMAN.node_id, "node_title": _HUMAN.title}
        expiration_time = int(time.time()) + _FORM_TIME
        if filled:
            answered = {"rendered_content": _FORM, "action_id": "approve", "action_text": "Approve"}
            answered["submitted_data"] = {"comment": "Looks good."}
            inside = ev.event(self.run_, "human_input_form_filled", {**about, **answered})
            outputs = {"__action_id": "approve", "comment": "Looks good."}
        else:
            inside = ev.event(self.run_, "human_input_form_timeout", {**about, "expiration_time": expiration_time})
            outputs = {"__action_id": "__timeout"}
        yield from self._node(_HUMAN, {}, outputs, inside=lambda _: [inside])

    def _pause_at_form(self) -> Iterator[Event]:
        """The run stops at a human-input node and waits (the form is delivered to a web app: it has a token)."""
        run, form_id, expiration_time = self.run_, ev.new_id(), int(time.time()) + _FORM_TIME
        yield ev.node_started(run, _HUMAN, next(self.index), ev.new_id(), {})
        actions = [{"id": action, "title": title, "button_style": "default"} for action, title in _FORM_ACTIONS]
        data = {"form_id": form_id, "node_id": _HUMAN.node_id, "node_title": _HUMAN.title, "form_content": _FORM}
        data.update(actions=actions, form_token=f"demo-form-token-{form_id[:8]}", expiration_time=expiration_time)
        required = ev.event(run, "human_input_required", data)
        yield required
        paused = {"workflow_run_id": run.workflow_run_id, "paused_nodes": [_HUMAN.node_id]}
        reasons = [{"type": "human_input_required", **required["data"]}]
        yield ev.event(run, "workflow_paused", {**paused, "reasons": reasons})

    def _container(self, kind: str, node: ev.Node, items: list[Any]) -> Iterator[Event]:
        """An iteration or a loop (``kind``) whose rounds run an inner node each."""
        run, execution_id, started = self.run_, ev.new_id(), time.perf_counter()
        self.steps += 1
        next(self.index)
        own, inputs = {"id": execution_id, **node.fields()}, {"items": items}
        length = {"loop_length" if kind == "loop" else "iterator_length": len(items)}
        yield ev.event(run, f"{kind}_started", {**own, "metadata": length, "inputs": inputs})
        place = {f"{kind}_id": node.node_id}
        outputs = []
        for round_index, item in enumerate(items):
            yield ev.event(run, f"{kind}_next", {**own, "index": round_index})
            result = f"{item} (round {round_index + 1})"
            outputs.append(result)
            yield from self._node(_INNER, {"item": item}, {"result": result}, place, pause=True)
        elapsed = round(time.perf_counter() - started, 4)
        done = {"outputs": {"output": outputs}, "inputs": inputs, "elapsed_time": elapsed, "steps": len(items)}
        yield ev.event(run, f"{kind}_completed", {**own, **done})

    def _agent_logs(self, execution_id: str) -> Iterator[Event]:
        """The steps an agent node's strategy logs as it reasons."""
        for label, data in (
            ("ROUND 1", {"thought": "I should call the weather tool."}),
            ("CALL weather", {"output": "Sunny, 21 °C (demo data)"}),
        ):
            log = {"node_execution_id": execution_id, "id": ev.new_id(), "label": label, "data": data}
            yield ev.event(self.run_, "agent_log", {**log, "node_id": _AGENT.node_id})

    def _cover_image(self) -> Generator[Event, None, list[Event]]:
        """A tool node that draws a cover: its ``files`` output, which the End node passes on."""
        stored = self.apps.picture("cover.png")
        files = [ev.file_value(stored, self.apps.files.preview_url(stored))]
        yield from self._node(_COVER, {"style": "sunny"}, {"text": "", "files": files, "json": []})
        return files


def _last_audio(run: ev.Run, pieces: list[str]) -> Iterator[Event]:
    """What Dify's pipelines send once the answer has ended when text-to-speech auto-play is on: the audio still
    being spoken, then ``tts_message_end``, after ``message_end`` (``_wrapper_process_stream_response``)."""
    yield ev.tts_message(run, _audio(pieces[-1] if pieces else ""))
    yield ev.event(run, "tts_message_end")


def _audio(token: str) -> bytes:
    """Stands for a few MP3 frames of ``token`` read aloud."""
    return b"\xff\xf3\x44\xc4" + token.encode()


def _workflow_id(app: DemoApp) -> str:
    """A stable workflow id per workflow-based app, as Dify keeps one published workflow per app."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"devkit-demo-workflow:{app.app_id}"))


def _slug(text: str) -> str:
    """A word fit for a file name."""
    return "-".join(_WORD.findall(text.lower())) or "here"


def _png(size: int, inside: tuple[int, int, int], outside: tuple[int, int, int]) -> bytes:
    """A square PNG with a disc in the middle, written byte by byte so that the devkit ships no image file."""
    middle, radius = (size - 1) / 2, size / 3
    rows = b"".join(
        b"\x00"  # each scanline starts with its filter type: none
        + b"".join(bytes(inside if (x - middle) ** 2 + (y - middle) ** 2 < radius**2 else outside) for x in range(size))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


SUN_PICTURE = _png(48, (250, 204, 21), (96, 165, 250))
"""What the demo's image tools draw: a yellow sun on a blue sky."""
