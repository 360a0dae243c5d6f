"""Five demo apps that answer like Dify's, so the plugin can be tried and tested without a Dify instance.

One app of each kind a Dify workspace can hold, each with a fixed id (the constants below; ``python -m devkit
serve`` prints them): a chatbot, an agent, a chatflow, a workflow and a completion app. They stream Dify's real
event shapes (see ``devkit/demo/events.py``) word by word, ``token_delay`` seconds apart, use their inputs in
what they say, and fail the way Dify fails:

* an unknown app id: "app not found"; a chat-type app called without a query: "missing query" (which is what a
  chat app gets through the plugin's workflow and completion paths, as those send no query);
* a workflow or completion app called *with* a query (through the chat path) runs as itself, query ignored,
  as Dify routes by the app's own mode (``api/core/plugin/backwards_invocation/app.py``);
* an unknown ``conversation_id`` (or one of another app): the chatbot and the agent refuse it with Dify's
  ``ConversationNotExistsError``, a refusal with an *empty* message; the chatflow runs in a *new* conversation, as
  Dify's chatflows do for service-API calls (the first event's ``conversation_id`` is not the one sent); one that
  is not a UUID gets Dify's generic 500 (all as measured on Dify 1.16.0-rc1);
* a chatflow ends ``message_end``, then ``workflow_finished`` (measured);
* inputs are checked as Dify checks them (``devkit/demo/inputs.py``);
* the agent refuses blocking mode ("Agent Chat App does not support blocking mode"), like Dify's agent apps.

``user`` is ignored, as Dify ignores it for a plugin's calls: every call runs as the workspace's one default end
user, so a conversation started by one caller can be continued by any caller that knows its id.

Triggers: words in the query (chat-type apps), the ``topic`` input (workflow) or the ``product`` input
(completion) make an app behave as Dify does in rarer cases. They combine ("form-filled paused" answers the first
form, then stops at the next one).

Any app:

* ``crash``: after a few events the stream breaks (the backend raises), as when Dify's side of the call dies;
* ``truncated``: the stream ends without its final event (no ``message_end``, ``workflow_finished``...), as when
  Dify's worker is killed mid-answer; in blocking mode Dify's "queue listening stopped unexpectedly.";
* ``silent``: after the first event the app says nothing for ``silence`` seconds (300 by default: longer than the
  daemon's 240 s read timeout and the SDK's 250 s), then goes on.

Files the apps make (``picture``, agent and workflow): a small PNG stored as a Dify tool file, linked the way Dify
links it (``ToolFileManager.sign_file``), which the local files server serves while the link is fresh (5 minutes):

* agent: a second tool, ``weather_map``, draws the map; Dify announces the file with a ``message_file`` event
  (type ``image``, belonging to the assistant) before the tool's ``agent_thought`` lists it in ``message_files``.
  Only agents send ``message_file``: Dify's plain chatbots have no tool that could make a file;
* workflow: a ``Cover image`` tool node makes ``cover.png``, and the run's outputs carry it as ``cover``, a list
  of one file as Dify serializes a ``File`` (``dify_model_identity`` ``__dify__file__``, ``transfer_method``
  ``tool_file``, ``url``...), repeated in the ``files`` of the End node's ``node_finished`` and of
  ``workflow_finished``.

Chatbot, agent and completion (Dify's "easy UI" apps):

* ``markup`` or ``html`` (chatbot): the answer contains ``<img src=x onerror=alert(1)>`` and ``<b>`` tags, to show
  the page escapes app text (an alert box means it does not);
* ``markdown`` (chatbot): an answer in markdown (bold, code, a list, a code block, a table, a link) with hostile
  bits (raw HTML, a ``javascript:`` link, an image), to show the page renders it as it streams, safely;
* ``fail``: after a few words Dify's in-stream ``error`` event (``completion_request_error``), as when a model call
  fails mid-answer;
* model errors before the first word: ``model-error`` (``completion_request_error``), ``quota``
  (``provider_quota_exceeded``), ``no-credentials`` (``provider_not_initialize``), ``unsupported-model``
  (``model_currently_not_support``). Streaming, the stream is that one ``error`` event; blocking, Dify's generic
  HTTP 500 (``{"message": "Internal Server Error", "code": "unknown", "status": 500}``), the model's text lost;
* ``replace``: the answer, then ``message_replace`` (output moderation rewrote it), then ``message_end``;
* ``tts`` (chatbot): ``tts_message`` audio chunks among the words, and after ``message_end`` the last audio and
  ``tts_message_end``, as Dify sends them when text-to-speech auto-play is on;
* ``think`` (chatbot): the answer starts with the model's reasoning in ``<think>…</think>``, as reasoning models
  (DeepSeek-R1 and its kin) stream it through Dify.

Chatflow and workflow:

* ``fail`` or any model-error word: the LLM node fails; the run ends with ``workflow_finished`` (``failed``), and
  a chatflow then sends ``error`` ("Run failed: ...", ``invalid_param``) and no ``message_end``. Blocking: a
  workflow returns its failed result, a chatflow is refused with HTTP 400 "Run failed: ...";
* ``paused``: the run stops at a human-input node: ``human_input_required``, ``workflow_paused``, and the stream
  ends (no ``workflow_finished``, no ``message_end``);
* ``form-filled`` / ``form-timeout``: a human-input node whose form was answered (``human_input_form_filled``) or
  expired (``human_input_form_timeout``), as a resumed run streams it, then the run goes on;
* ``stopped``: the run is stopped mid-answer: ``workflow_finished`` with status ``stopped`` ("Stopped by user.");
* ``partial``: a tool node fails but its error strategy lets the run go on: its ``node_finished`` has status
  ``exception``, and ``workflow_finished`` has ``partial-succeeded``;
* ``retry``: the LLM node fails once and is retried (``node_retry``);
* ``iterate`` / ``loop``: an iteration (``iteration_started``, ``_next``, ``_completed``) or a loop (``loop_*``)
  whose inner node events carry ``iteration_id`` / ``loop_id``;
* ``agent-log``: an agent node that logs its steps (``agent_log``);
* ``replace``: the streamed text is replaced afterwards (``text_replace`` in a workflow, ``message_replace`` in a
  chatflow);
* ``tts`` (chatflow): ``tts_message`` audio chunks, then after ``message_end`` the last audio and ``tts_message_end``.

Deviations, on purpose:

* a paused run in blocking mode returns the run's result with status ``paused`` (a workflow) or the answer so far
  (a chatflow); the exact shape Dify uses there is not modelled;
* the apps read the files a plugin uploads (``tool_file`` inputs) and the completion app answers. Dify 1.16.0-rc1
  does neither for a plugin: it refuses a plugin's upload as "ToolFile <id> not found" (the upload belongs to
  another end user of the workspace) and fails every completion call with its generic 500.
  ``devkit/demo/recorded.py`` (``RecordedDify``) answers as that Dify does.
"""

from __future__ import annotations

import itertools
import json
import re
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from devkit.daemon.files import FileService, ToolFile
from devkit.daemon.process import DifyError, DifyServerError
from devkit.demo import events as ev
from devkit.demo.inputs import Field, user_input_form, validate_inputs
from devkit.demo.remote import RemoteFiles

CHATBOT_APP_ID = "8c2f0a6e-3b1d-4f7a-9e52-1d6c4b8a7f30"
AGENT_APP_ID = "a41e7d92-5c3b-4e8f-b6a1-2f9d0c7e5b14"
CHATFLOW_APP_ID = "c7d35b18-9e2a-4c6f-8b40-6e1a3f5d9c27"
WORKFLOW_APP_ID = "e5b9a2c4-7f1d-4a3e-9c68-0b2d4f6a8e91"
COMPLETION_APP_ID = "f2a8c6e0-4d9b-4b1f-a7e3-5c0d8b2f6a49"

CHAT_MODES = frozenset({"chat", "agent-chat", "advanced-chat"})
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
QUEUE_STOPPED = "queue listening stopped unexpectedly."
"""What Dify's blocking pipelines raise when the stream ends without a final event."""
SILENCE = 300.0
QUOTA_NODE_ERROR = "[demo] The model's quota is used up."

Event = dict[str, Any]
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
    path: str
    """The plugin path that serves it: chat, workflow or completion."""
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
        slug="chatbot",
        path="chat",
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
        slug="chatflow",
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
        slug="outline",
        path="workflow",
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
        path="completion",
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
_ITERATION = ev.Node("iteration", "iteration", "Iteration")
_LOOP = ev.Node("loop", "loop", "Loop")
_INNER = ev.Node("inner_code", "code", "Code")
_AGENT = ev.Node("agent", "agent", "Agent")
_TOOL = ev.Node("weather_tool", "tool", "Weather tool")
_COVER = ev.Node("cover_image", "tool", "Cover image")
IMAGE_TOOL_OBSERVATION = (
    "image has been created and sent to user already, you do not need to create it, just tell the user to check it now."
)
"""What Dify's tool engine tells an agent's model about an image its tool made."""

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
        self.completion_fixed = completion_fixed
        """Play a Dify that runs completion apps for plugins: 1.16 and earlier fail every such call with their
        generic HTTP 500 (a ``KeyError`` on ``query`` in the completion generator), as measured."""
        """How long the ``silent`` trigger keeps an app quiet after its first event, in seconds."""
        self.files = FileService()
        self.network: Callable[[str], tuple[bytes, str] | None] | None = None
        """The network Dify's proxy reaches, beyond ``reachable``: the devkit's daemon answers the plugin's own
        public endpoint through it (``PluginProcess.fetch``), where the plugin serves the files a client sent."""
        self.reachable: dict[str, bytes] = {}
        """Other URLs that answer, and what they serve: every other address is unreachable, as for Dify."""
        """Dify's files service: what plugins upload (``session.file.upload``) lands here as tool files, the apps
        read them, and the files the apps make (``picture``) are kept and served here too."""
        self._sleep = sleep
        self._lock = threading.Lock()
        self._conversations: dict[str, tuple[str, int]] = {}
        """conversation id -> (app id, turns so far). No user in it: Dify runs every plugin call as one user."""

    def turns(self) -> dict[str, int]:
        """Each conversation Dify holds, by id, with its number of turns so far."""
        with self._lock:
            return {conversation: turns for conversation, (_, turns) in self._conversations.items()}

    # -- AppBackend --------------------------------------------------------------------------------------------

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return self._app(app_id).parameters()

    def invoke_app(self, request: dict[str, Any]) -> Iterator[Event]:
        """Check the call as Dify does, in Dify's order (raising ``DifyError`` at once), then return the events."""
        app = self._app(str(request.get("app_id", "")))
        if app.mode == "completion" and not self.completion_fixed:
            raise DifyServerError("KeyError: 'query'")  # Dify's plugin path calls the generator without a query
        query = request.get("query")
        streaming = request.get("response_mode") == "streaming"
        if app.takes_query and not query:
            raise DifyError("missing query")
        if app.mode == "agent-chat" and not streaming:
            raise DifyError("Agent Chat App does not support blocking mode")
        conversation_id = request.get("conversation_id")
        if app.takes_query and conversation_id:
            conversation_id = self._check_conversation(app, str(conversation_id))
        raw_inputs = request.get("inputs")
        inputs = validate_inputs(
            app.fields,
            raw_inputs if isinstance(raw_inputs, Mapping) else {},
            tool_files=self.files.files,
            remote=self.remote(),
        )

        run = ev.Run(mode=app.mode, workflow_id=_workflow_id(app) if app.workflow_based else None, app_id=app.app_id)
        turn = 1
        if app.takes_query:
            run.conversation_id, turn = self._next_turn(app, conversation_id)
        text = str(query or "") if app.takes_query else str(inputs.get(app.trigger_input or "") or "")
        words = triggers(text)
        events = self._shaped(self._script(app, run, str(query or ""), inputs, turn, words), words)
        return events if streaming else self._blocking(app, run, events)

    # -- helpers -----------------------------------------------------------------------------------------------

    def _app(self, app_id: str) -> DemoApp:
        app = _BY_ID.get(app_id)
        if app is None:
            raise DifyError("app not found")
        return app

    def _check_conversation(self, app: DemoApp, conversation_id: str) -> str | None:
        """The conversation a call continues (``None``: a new one), or Dify's refusal (measured on 1.16.0-rc1)."""
        try:
            uuid.UUID(conversation_id)
        except ValueError:  # the database refuses it: Dify's generic 500
            raise DifyServerError(f'invalid input syntax for type uuid: "{conversation_id}"') from None
        with self._lock:
            owner, _ = self._conversations.get(conversation_id, ("", 0))
        if owner == app.app_id:
            return conversation_id
        if app.mode == "advanced-chat":
            # A service-API chatflow call swallows the unknown conversation and runs in a new one: the first
            # event's conversation_id differs from the one sent.
            return None
        # ConversationNotExistsError() carries no message: Dify's 400 says nothing.
        raise DifyError("")

    def _next_turn(self, app: DemoApp, conversation_id: Any) -> tuple[str, int]:
        with self._lock:
            if not conversation_id:
                conversation_id = ev.new_id()
                turns = 0
            else:
                _, turns = self._conversations.get(str(conversation_id), (app.app_id, 0))
            self._conversations[str(conversation_id)] = (app.app_id, turns + 1)
            return str(conversation_id), turns + 1

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
        if app.mode == "chat":
            return self._chatbot(run, query, inputs, turn, words)
        if app.mode == "agent-chat":
            return self._agent(run, query, inputs, words)
        if app.mode == "advanced-chat":
            return self._chatflow(run, query, inputs, turn, words)
        if app.mode == "workflow":
            return self._workflow(run, inputs, words)
        return self._completion(run, inputs, words)

    def _blocking(self, app: DemoApp, run: ev.Run, events: Iterator[Event]) -> Iterator[Event]:
        """Blocking mode: run to the end, then one result dict; a failed run raises as Dify's blocking call does.

        An ``error`` event becomes the exception Dify raises: its ``ValueError`` refusals (``invalid_param``, e.g. a
        chatflow's "Run failed: ...") are HTTP 400 refusals, every model error is the generic HTTP 500.
        """
        answer: list[str] = []
        usage: Event = {}
        for event in events:
            kind = event.get("event")
            if kind in ("message", "agent_message"):
                answer.append(event["answer"])
            elif kind == "message_replace":
                answer = [event["answer"]]
            elif kind == "message_end":
                usage = event["metadata"]["usage"]
                yield ev.chat_blocking_result(run, "".join(answer), usage)
                return
            elif kind == "error":
                if event["code"] == "invalid_param":
                    raise DifyError(event["message"])
                raise DifyServerError(event["message"])
            elif kind == "workflow_finished" and app.mode == "workflow":
                yield ev.workflow_blocking_result(run, event["data"])
                return
            elif kind == "workflow_paused":
                if app.mode == "workflow":
                    data = ev.workflow_run_data(
                        run, status="paused", outputs={}, error_=None, total_tokens=0, total_steps=0
                    )
                    yield ev.workflow_blocking_result(run, data)
                else:
                    yield ev.chat_blocking_result(run, "".join(answer), ev.usage(0, 0, run.elapsed))
                return
        raise DifyError(QUEUE_STOPPED)

    def _stream_words(self, text: str, build: Callable[[str], Event]) -> Iterator[Event]:
        for index, token in enumerate(tokens(text)):
            self._pause(index)
            yield build(token)

    def _easy_ui_answer(
        self,
        run: ev.Run,
        text: str,
        build: Callable[[str], Event],
        words: frozenset[str],
        usage_: Callable[[int], Event],
    ) -> Iterator[Event]:
        """The answer of a chatbot, agent or completion app, with the easy-UI triggers applied."""
        failure = _model_failure(words)
        if failure is not None:
            code, description = failure
            yield ev.error(run, code, description)
            return
        pieces = tokens(text)
        for index, token in enumerate(pieces):
            self._pause(index)
            if index == _FAIL_AFTER_TOKENS and "fail" in words:
                yield ev.error(run, "completion_request_error", FAIL_MESSAGE)
                return
            yield build(token)
            if "tts" in words and index % 4 == 3:
                yield ev.tts_message(run, _audio(token))
        if "replace" in words:
            yield ev.message_replace(run, "[demo] This answer was replaced by output moderation.")
        yield ev.message_end(run, usage_(len(pieces)))
        if "tts" in words:
            yield from _last_audio(run, pieces)

    # -- the five apps -----------------------------------------------------------------------------------------

    def _chatbot(
        self, run: ev.Run, query: str, inputs: dict[str, Any], turn: int, words: frozenset[str]
    ) -> Iterator[Event]:
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
        return self._easy_ui_answer(
            run,
            text,
            lambda token: ev.message(run, token),
            words,
            lambda count: ev.usage(_prompt_tokens(query, name), count, run.elapsed),
        )

    def _agent(self, run: ev.Run, query: str, inputs: dict[str, Any], words: frozenset[str]) -> Iterator[Event]:
        city = str(inputs.get("city") or "Paris")
        if _model_failure(words) is None:
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
            self._pause(1)
            if "picture" in words:
                yield from self._weather_map(run, city)
        text = f"The weather tool says it is sunny and 21 °C in {city}, so no umbrella needed. You asked: “{query}”."
        if "picture" in words and _model_failure(words) is None:
            text += " The weather map is above."
        yield from self._easy_ui_answer(
            run,
            text,
            lambda token: ev.agent_message(run, token),
            words,
            lambda count: ev.usage(_prompt_tokens(query, city) + 40, count + 12, run.elapsed),
        )

    def _weather_map(self, run: ev.Run, city: str) -> Iterator[Event]:
        """An agent's image tool: the file first (``message_file``), then the step that made it."""
        thought_id, message_file_id = ev.new_id(), ev.new_id()
        yield ev.agent_thought(run, thought_id, 2)
        self._pause(1)
        stored = self.picture(f"weather-map-{_slug(city)}.png")
        yield ev.message_file(run, message_file_id, self.files.preview_url(stored), "image")
        yield ev.agent_thought(
            run,
            thought_id,
            2,
            thought=f"A map makes it clearer: I will draw the weather over {city}.",
            tool="weather_map",
            tool_input=json.dumps({"weather_map": {"city": city}}),
            observation=json.dumps({"weather_map": IMAGE_TOOL_OBSERVATION}),
            message_files=(message_file_id,),
        )
        self._pause(1)

    def picture(self, filename: str) -> ToolFile:
        """A picture a tool made, kept as Dify keeps tool files (the same file store plugins upload to)."""
        return self.files.create_tool_file(filename, SUN_PICTURE, "image/png")

    def _completion(self, run: ev.Run, inputs: dict[str, Any], words: frozenset[str]) -> Iterator[Event]:
        product = str(inputs["product"])
        features = str(inputs.get("features") or "").strip().rstrip(".")
        sentences = [f"Meet {product}: {features}." if features else f"Meet {product}."]
        sentences.append(f"{product} is made for people who want things done simply and well.")
        if inputs.get("style") == "detailed":
            sentences.append(f"Every part of {product} was designed, tested and improved with real users.")
            sentences.append("Order today and see the difference for yourself.")
        limit = max(int(inputs.get("max_words") or 40), 5)
        text = " ".join(" ".join(sentences).split()[:limit])
        return self._easy_ui_answer(
            run,
            text,
            lambda token: ev.message(run, token),
            words,
            lambda count: ev.usage(_prompt_tokens(product, features), count, run.elapsed),
        )

    def _chatflow(
        self, run: ev.Run, query: str, inputs: dict[str, Any], turn: int, words: frozenset[str]
    ) -> Iterator[Event]:
        plan = inputs.get("plan") or "free"
        system = ev.system_inputs(run, query=query, dialogue_count=turn)
        text = (
            f"On the {plan} plan, here is my answer to “{query}”: a real chatflow would ask its LLM node; "
            f"this demo streams through the LLM and Answer nodes instead (turn {turn})."
        )
        return _Graph(self, run, words, chat=True).run(inputs, system, {"query": query}, text, [query, plan])

    def _workflow(self, run: ev.Run, inputs: dict[str, Any], words: frozenset[str]) -> Iterator[Event]:
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

    def remote(self) -> RemoteFiles:
        """The files Dify fetches by URL, as this demo workspace's network answers them."""
        return RemoteFiles(self.reachable, self.files.base_url, fetch=self.network)

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

    def _node(
        self,
        run: ev.Run,
        node: ev.Node,
        index: int,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        place: ev.Place = ev.TOP,
    ) -> Iterator[Event]:
        """A node that starts and finishes at once (start, answer, end and inner nodes)."""
        node_execution_id = ev.new_id()
        yield ev.node_started(run, node, index, node_execution_id, inputs, place)
        self._pause(1)
        yield ev.node_finished(
            run, node, index, node_execution_id, inputs=inputs, outputs=outputs, elapsed_time=0.0, place=place
        )


class _Graph:
    """One run of a workflow-based demo app (chatflow or workflow): Start, optional nodes the triggers ask for,
    the LLM node that streams the answer, then Answer (chatflow) or End (workflow)."""

    def __init__(self, apps: DemoApps, run: ev.Run, words: frozenset[str], *, chat: bool) -> None:
        self.apps = apps
        self.run_ = run
        self.words = words
        self.chat = chat
        self.index = itertools.count(1)
        self.steps = 0
        self.exceptions = 0

    def run(
        self,
        start_inputs: dict[str, Any],
        system: dict[str, Any],
        llm_inputs: dict[str, Any],
        text: str,
        prompt: Iterable[Any],
    ) -> Iterator[Event]:
        """``start_inputs`` are the form's (the Start node's inputs and outputs); the run's own inputs add Dify's
        ``system`` variables to them."""
        run, words, apps = self.run_, self.words, self.apps
        yield ev.workflow_started(run, {**start_inputs, **system})
        yield from self._simple(_START, start_inputs, start_inputs)
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
            yield from self._agent_node()
        if "partial" in words:
            yield from self._failing_tool()

        failure = "fail" in words or _model_failure(words) is not None
        stopped = "stopped" in words
        node = _LLM
        execution_id, index, started = ev.new_id(), next(self.index), time.perf_counter()
        self.steps += 1
        yield ev.node_started(run, node, index, execution_id, llm_inputs)
        if "retry" in words:
            yield ev.node_finished(
                run,
                node,
                index,
                execution_id,
                inputs=llm_inputs,
                outputs=None,
                elapsed_time=time.perf_counter() - started,
                status="retry",
                error_="[demo] The model did not answer in time; retrying.",
                event="node_retry",
                retry_index=1,
            )
        pieces = tokens(text)
        streamed = pieces[:_FAIL_AFTER_TOKENS] if failure or stopped else pieces
        for number, token in enumerate(streamed):
            apps._pause(number)
            yield ev.message(run, token, ["llm", "text"]) if self.chat else ev.text_chunk(run, token, ["llm", "text"])
            if self.chat and "tts" in words and number % 4 == 3:
                yield ev.tts_message(run, _audio(token))
        total = _prompt_tokens(*prompt) + len(streamed)
        if failure:
            model = _model_failure(words)
            # A model error fails the LLM node with the model's text; the run takes the node's error as its own.
            message = (model[1] or QUOTA_NODE_ERROR) if model else "[demo] The LLM node failed, as you asked."
            yield ev.node_finished(
                run,
                node,
                index,
                execution_id,
                inputs=llm_inputs,
                outputs=None,
                elapsed_time=time.perf_counter() - started,
                status="failed",
                error_=message,
            )
            yield self._finished("failed", {}, message, total)
            if self.chat:
                yield ev.error(run, "invalid_param", f"Run failed: {message}")
            return
        if stopped:
            yield self._finished("stopped", {}, STOPPED_MESSAGE, total)
            if self.chat:
                yield ev.message_end(run, ev.usage(_prompt_tokens(*prompt), len(streamed), run.elapsed))
            return
        yield ev.node_finished(
            run,
            node,
            index,
            execution_id,
            inputs=llm_inputs,
            outputs={"text": text},
            elapsed_time=time.perf_counter() - started,
            total_tokens=total,
        )
        if "replace" in words:
            replaced = "[demo] This answer was replaced by output moderation."
            yield ev.message_replace(run, replaced) if self.chat else ev.text_replace(run, replaced)
            text = replaced
        outputs = {"answer": text} if self.chat else {"text": text}
        if "picture" in words and not self.chat:
            outputs["cover"] = yield from self._cover_image()
        if self.chat:
            yield from self._simple(_ANSWER, {}, outputs)
        else:
            yield from self._simple(_END, {"text": text}, outputs)
        finished = self._finished("partial-succeeded" if self.exceptions else "succeeded", outputs, None, total)
        if self.chat:  # measured: a chatflow's message_end comes before its workflow_finished
            yield ev.message_end(run, ev.usage(_prompt_tokens(*prompt), len(pieces), run.elapsed))
        yield finished
        if self.chat and "tts" in words:
            yield from _last_audio(run, pieces)

    def _finished(self, status: str, outputs: dict[str, Any], error: str | None, total: int) -> Event:
        data = ev.workflow_run_data(
            self.run_,
            status=status,
            outputs=outputs,
            error_=error,
            total_tokens=total,
            total_steps=self.steps,
            exceptions_count=self.exceptions,
        )
        return ev.workflow_finished(self.run_, data)

    def _simple(
        self, node: ev.Node, inputs: dict[str, Any], outputs: dict[str, Any], place: ev.Place = ev.TOP
    ) -> Iterator[Event]:
        self.steps += 1
        yield from self.apps._node(self.run_, node, next(self.index), inputs, outputs, place)

    def _form(self, *, filled: bool) -> Iterator[Event]:
        run, form = self.run_, _form()
        execution_id, index = ev.new_id(), next(self.index)
        self.steps += 1
        yield ev.node_started(run, form.node, index, execution_id, {})
        if filled:
            yield ev.human_input_form_filled(run, form, "approve", {"comment": "Looks good."})
            outputs = {"__action_id": "approve", "comment": "Looks good."}
        else:
            yield ev.human_input_form_timeout(run, form)
            outputs = {"__action_id": "__timeout"}
        yield ev.node_finished(run, form.node, index, execution_id, inputs={}, outputs=outputs, elapsed_time=0.0)

    def _pause_at_form(self) -> Iterator[Event]:
        run, form = self.run_, _form()
        yield ev.node_started(run, form.node, next(self.index), ev.new_id(), {})
        required = ev.human_input_required(run, form, form_token=f"demo-form-token-{form.form_id[:8]}")
        yield required
        yield ev.workflow_paused(run, form, {"type": "human_input_required", **required["data"]})

    def _container(self, kind: str, node: ev.Node, items: list[Any]) -> Iterator[Event]:
        run = self.run_
        execution_id, started = ev.new_id(), time.perf_counter()
        self.steps += 1
        next(self.index)
        yield ev.container_started(run, kind, node, execution_id, {"items": items}, len(items))
        place = ev.Place(iteration_id=node.node_id) if kind == "iteration" else ev.Place(loop_id=node.node_id)
        outputs = []
        for round_index, item in enumerate(items):
            yield ev.container_next(run, kind, node, execution_id, round_index)
            result = f"{item} (round {round_index + 1})"
            outputs.append(result)
            yield from self._simple(_INNER, {"item": item}, {"result": result}, place)
        yield ev.container_completed(
            run,
            kind,
            node,
            execution_id,
            inputs={"items": items},
            outputs={"output": outputs},
            steps=len(items),
            elapsed_time=time.perf_counter() - started,
        )

    def _agent_node(self) -> Iterator[Event]:
        run, node = self.run_, _AGENT
        execution_id, index = ev.new_id(), next(self.index)
        self.steps += 1
        yield ev.node_started(run, node, index, execution_id, {"query": "weather?"})
        yield ev.agent_log(run, node, execution_id, "ROUND 1", {"thought": "I should call the weather tool."})
        yield ev.agent_log(run, node, execution_id, "CALL weather", {"output": "Sunny, 21 °C (demo data)"})
        yield ev.node_finished(
            run, node, index, execution_id, inputs={"query": "weather?"}, outputs={"text": "Sunny"}, elapsed_time=0.0
        )

    def _cover_image(self) -> Generator[Event, None, list[Event]]:
        """A tool node that draws a cover: its ``files`` output, which the End node passes on."""
        run, node = self.run_, _COVER
        execution_id, index = ev.new_id(), next(self.index)
        self.steps += 1
        stored = self.apps.picture("cover.png")
        files = [ev.file_value(stored, self.apps.files.preview_url(stored))]
        yield ev.node_started(run, node, index, execution_id, {"style": "sunny"})
        yield ev.node_finished(
            run,
            node,
            index,
            execution_id,
            inputs={"style": "sunny"},
            outputs={"text": "", "files": files, "json": []},
            elapsed_time=0.0,
        )
        return files

    def _failing_tool(self) -> Iterator[Event]:
        run, node = self.run_, _TOOL
        execution_id, index = ev.new_id(), next(self.index)
        self.steps += 1
        self.exceptions += 1
        yield ev.node_started(run, node, index, execution_id, {"city": "Paris"})
        yield ev.node_finished(
            run,
            node,
            index,
            execution_id,
            inputs={"city": "Paris"},
            outputs={"error_message": "[demo] The weather service is down.", "error_type": "ToolInvokeError"},
            elapsed_time=0.0,
            status="exception",
            error_="[demo] The weather service is down.",
        )


def _form() -> ev.Form:
    return ev.Form(_HUMAN, ev.new_id(), "Please review the draft answer and approve it.")


def _last_audio(run: ev.Run, pieces: list[str]) -> Iterator[Event]:
    """What Dify's pipelines send once the answer has ended when text-to-speech auto-play is on: the audio still
    being spoken, then ``tts_message_end``, after ``message_end`` (``_wrapper_process_stream_response``)."""
    yield ev.tts_message(run, _audio(pieces[-1] if pieces else ""))
    yield ev.tts_message_end(run)


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
