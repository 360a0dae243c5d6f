"""Five demo apps (``demo_apps.json``: chatbot, agent, chatflow, workflow, completion) that answer the plugin's app
calls as Dify 1.16.0-rc1 does: Dify's events (``events.py``) word by word, ``token_delay`` s apart, and its refusals
in its order and words (``events.accepted``, ``inputs.validate_inputs``). Words in the query (chat-type apps), the
``topic`` input (workflow) or the ``product`` input (completion) trigger Dify's rarer answers, listed in
DEVELOPING.md ("Run it locally"). As measured, a workflow or completion app called with a query (the chat path) runs
as itself, query ignored: Dify routes by the app's mode (``api/core/plugin/backwards_invocation/app.py``).

Deviations, on purpose: in blocking mode a paused run returns the run's result with status ``paused`` (workflow) or
the answer so far (chatflow), a shape of our own; the apps read the files a plugin uploads (``tool_file`` inputs),
which that Dify refuses as "ToolFile <id> not found" (the upload belongs to another end user of the workspace);
``completion_fixed=True`` runs the completion app, which that Dify fails with its generic 500 for every plugin call.
``tests/real_dify/player.py`` (``RecordedDify``) answers as that Dify does.
"""

import copy
import json
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from devkit.daemon.files import FileService
from devkit.daemon.process import DifyError, DifyServerError
from devkit.demo import events as ev
from devkit.demo.events import QUEUE_STOPPED as QUEUE_STOPPED
from devkit.demo.inputs import Field, fields_of, validate_inputs
from devkit.demo.remote import RemoteFiles

_DATA = json.loads(Path(__file__).with_name("demo_apps.json").read_text(encoding="utf-8"))
MARKUP_SAMPLE = "<img src=x onerror=alert(1)>"
MARKDOWN_SAMPLE = "\n".join(_DATA["markdown"])
THINKING_SAMPLE = "\n".join(_DATA["thinking"])  # ``think`` (chatbot): how DeepSeek-R1 and its kin stream reasoning
_SECTIONS: dict[str, list[str]] = _DATA["sections"]  # the outline's section titles by tone, ``{t}``: the topic

MODEL_ERRORS: dict[str, tuple[str, str]] = {  # trigger word -> (the ``error`` event's code, the exception's text)
    "model-error": ("completion_request_error", "[demo] The model provider refused the request, as you asked."),
    "quota": ("provider_quota_exceeded", ""),
    "no-credentials": ("provider_not_initialize", "Model gpt-4o-mini credentials is not initialized."),
    "unsupported-model": ("model_currently_not_support", "Model Currently Not Support"),
}
FAIL_MESSAGE = "[demo] The model failed halfway through the answer, as you asked."
CRASH_MESSAGE = "the demo app's stream broke halfway, as you asked"
STOPPED_MESSAGE = "Stopped by user."  # ``QueueStopEvent.get_stop_reason``: a run stopped from the API or the studio
SILENCE = 300.0  # the ``silent`` trigger's pause: longer than the daemon's 240 s read timeout and the SDK's 250 s
QUOTA_NODE_ERROR = "[demo] The model's quota is used up."
REPLACED = "[demo] This answer was replaced by output moderation."
IMAGE_TOOL_OBSERVATION = (  # what Dify's tool engine tells an agent's model about an image its tool made
    "image has been created and sent to user already, you do not need to create it, just tell the user to check it now."
)
SUN_PICTURE = Path(__file__).with_name("sun.png").read_bytes()  # ``picture``: a yellow sun on a blue sky, 48 px square

Event = dict[str, Any]
Inputs = dict[str, Any]
Words = frozenset[str]
_FINAL_EVENTS = frozenset({"message_end", "workflow_finished", "workflow_paused", "error"})
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # a trigger word of the lower-cased query or input, hyphens kept
_TOKEN = re.compile(r"\S+\s*")  # a piece of an answer as a model streams it: a word and the whitespace after it
_FAIL_AFTER_TOKENS = 4


@dataclass(frozen=True)
class DemoApp:
    """A demo app (``demo_apps.json``): its identity, its parameters and the sample call the console suggests."""

    app_id: str
    name: str
    mode: str  # Dify's app mode: chat, agent-chat, advanced-chat (chatflow), workflow or completion
    slug: str  # its name in the demo endpoint's ``allowed_apps``, so that links read ``/chat/chatbot``
    opening_statement: str
    suggested_questions: tuple[str, ...]
    user_input_form: tuple[dict[str, Any], ...] = field(compare=False)  # as Dify's ``fetch_app`` returns it
    sample_query: str | None = None
    sample_inputs: tuple[tuple[str, str], ...] = ()
    trigger_input: str | None = None  # for apps without a query: the input whose words trigger the demo behaviours

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        return fields_of(list(self.user_input_form))

    @property
    def takes_query(self) -> bool:
        return self.mode in ev.CHAT_MODES

    @property
    def path(self) -> str:
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
            "user_input_form": copy.deepcopy(list(self.user_input_form)),
        }
        return ev.filled(ev.TEMPLATES["app parameters"], values)


def _demo_app(entry: dict[str, Any]) -> DemoApp:
    listed = {key: tuple(entry[key]) for key in ("suggested_questions", "user_input_form")}
    return DemoApp(**{**entry, **listed, "sample_inputs": tuple(entry.get("sample_inputs", {}).items())})


DEMO_APPS: tuple[DemoApp, ...] = tuple(_demo_app(entry) for entry in _DATA["apps"])
CHATBOT_APP_ID, AGENT_APP_ID, CHATFLOW_APP_ID, WORKFLOW_APP_ID, COMPLETION_APP_ID = (app.app_id for app in DEMO_APPS)
# The demo endpoint serves each demo app by a name and its type, as an admin would set it up.
DEMO_ALLOWED_APPS = ", ".join(f"{app.path}:{app.slug}={app.app_id}" for app in DEMO_APPS)
DEMO_SETTINGS: dict[str, str] = {"allowed_apps": DEMO_ALLOWED_APPS}
_BY_ID = {app.app_id: app for app in DEMO_APPS}

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
_TOOL_DOWN = "[demo] The weather service is down."
_FORM = "Please review the draft answer and approve it."
_FORM_TIME = 24 * 3600  # seconds a human-input form waits for its answer


def _prompt_tokens(*texts: Any) -> int:
    return 12 + sum(len(str(text).split()) for text in texts if text)


def _model_failure(words: Words) -> tuple[str, str] | None:
    return next((failure for word, failure in MODEL_ERRORS.items() if word in words), None)


class DemoApps:
    """An ``AppBackend`` serving the five demo apps; safe to call from many threads at once."""

    def __init__(
        self,
        token_delay: float = 0.03,
        *,
        sleep: Callable[[float], None] = time.sleep,
        silence: float = SILENCE,
        completion_fixed: bool = False,  # a Dify running completion apps for plugins (1.16 fails all: KeyError)
    ) -> None:
        self.token_delay = token_delay
        self.silence = silence
        self.completion_fixed = completion_fixed
        # Dify's files service: plugins' uploads land here as tool files, which the apps read; so do the pictures the
        # apps make, served and linked as ``ToolFileManager.sign_file`` links them.
        self.files = FileService()
        # The network Dify's proxy reaches beyond ``reachable``: the daemon's ``PluginProcess.fetch`` answers the
        # plugin's own public endpoint through it, where the plugin serves the files a client sent.
        self.network: Callable[[str], tuple[bytes, str] | None] | None = None
        self.reachable: dict[str, bytes] = {}  # other URLs that answer, and what they serve; no other address does
        self._sleep = sleep
        self._conversations = ev.Conversations()

    def turns(self) -> dict[str, int]:
        """Each conversation Dify holds, by id, with its number of turns so far."""
        return self._conversations.turns()

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return ev.app_of(_BY_ID, {"app_id": app_id}).parameters()

    def invoke_app(self, request: dict[str, Any]) -> Iterator[Event]:
        """Check the call as Dify does, in Dify's order (raising ``DifyError`` at once), then return the events."""
        app = ev.app_of(_BY_ID, request)
        if app.mode == "completion" and not self.completion_fixed:
            raise DifyServerError("KeyError: 'query'")  # Dify's plugin path calls the generator without a query
        query, streaming, conversation_id, sent = ev.accepted(app.app_id, app.mode, request, self._conversations)
        inputs = validate_inputs(app.fields, sent, tool_files=self.files.files, remote=self.remote())
        # A stable workflow id per workflow-based app: Dify keeps one published workflow per app.
        workflow = str(uuid.uuid5(uuid.NAMESPACE_URL, f"devkit-demo-workflow:{app.app_id}"))
        run = ev.Run(app.mode, app.app_id, workflow_id=workflow if app.workflow_based else None)
        turn = 1
        if app.takes_query:
            run.conversation_id, turn = self._conversations.next_turn(app.app_id, conversation_id)
        said = query if app.takes_query else str(inputs.get(app.trigger_input or "") or "")
        words = frozenset(_WORD.findall(said.lower()))
        script = {"chat": self._chatbot, "agent-chat": self._agent, "advanced-chat": self._chatflow}
        script.update(workflow=self._workflow, completion=self._completion)
        events = self._shaped(script[app.mode](run, query, inputs, turn, words), words)
        return events if streaming else self._blocking(app, run, events)

    def remote(self) -> RemoteFiles:
        """The files Dify fetches by URL, as this demo workspace's network answers them."""
        return RemoteFiles(self.reachable, self.files.base_url, fetch=self.network)

    def _pause(self, index: int) -> None:
        if index and self.token_delay > 0:
            self._sleep(self.token_delay)

    def _shaped(self, events: Iterator[Event], words: Words) -> Iterator[Event]:
        """The behaviours any app can be asked for: ``silent`` (quiet for ``silence`` seconds after the first
        event), ``crash`` (Dify's side of the call dies) and ``truncated`` (its worker is killed mid-answer)."""
        for count, event in enumerate(events, 1):
            if "truncated" in words and event.get("event") in _FINAL_EVENTS:
                return
            if "crash" in words and count > _FAIL_AFTER_TOKENS:
                raise DifyError(CRASH_MESSAGE)
            yield event
            if count == 1 and "silent" in words:
                self._sleep(self.silence)

    def _blocking(self, app: DemoApp, run: ev.Run, events: Iterator[Event]) -> Iterator[Event]:
        """Blocking mode: run to the end, then one result (``ev.blocking_result``); a paused run ends there."""

        def ended() -> Iterator[Event]:
            for event in events:
                if event.get("event") != "workflow_paused":
                    yield event
                elif app.mode == "workflow":
                    yield ev.workflow_finished(run, "paused", {}, None, total_tokens=0, total_steps=0)
                else:
                    yield ev.message_end(run, 0, 0)

        yield ev.blocking_result(app.mode, ended())

    def _easy_ui_answer(
        self, run: ev.Run, text: str, kind: str, words: Words, prompt_tokens: int, extra_tokens: int = 0
    ) -> Iterator[Event]:
        """A chatbot's, agent's or completion app's answer (``kind``: message or agent_message), with the easy-UI
        triggers applied; ``extra_tokens``: completion tokens spent besides the answer's (an agent's thoughts)."""
        if (failure := _model_failure(words)) is not None:
            yield ev.error(run, *failure)
            return
        pieces = _TOKEN.findall(text)
        for index, token in enumerate(pieces):
            self._pause(index)
            if index == _FAIL_AFTER_TOKENS and "fail" in words:
                yield ev.error(run, "completion_request_error", FAIL_MESSAGE)
                return
            yield ev.message(run, token) if kind == "message" else ev.event(run, kind, answer=token)
            if "tts" in words and index % 4 == 3:
                yield ev.tts_message(run, token)
        if "replace" in words:  # output moderation rewrote the answer
            yield ev.event(run, "message_replace", answer=REPLACED)
        yield ev.message_end(run, prompt_tokens, len(pieces) + extra_tokens)
        if "tts" in words:
            yield from _last_audio(run, pieces)

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
        text = f"The weather tool says it is sunny and 21 °C in {city}, so no umbrella needed. You asked: “{query}”."
        if tools:
            weather = json.dumps({"weather": f"Sunny, 21 °C in {city} (demo data)"}, ensure_ascii=False)
            yield from self._tool_step(run, 1, "weather", f"I should ask the weather tool about {city}.", city, weather)
        if tools and "picture" in words:
            thought = f"A map makes it clearer: I will draw the weather over {city}."
            observation = json.dumps({"weather_map": IMAGE_TOOL_OBSERVATION})
            picture = f"weather-map-{'-'.join(_WORD.findall(city.lower())) or 'here'}.png"
            yield from self._tool_step(run, 2, "weather_map", thought, city, observation, picture)
            text += " The weather map is above."
        yield from self._easy_ui_answer(run, text, "agent_message", words, _prompt_tokens(query, city) + 40, 12)

    def _tool_step(
        self, run: ev.Run, position: int, tool: str, thought: str, city: str, observation: str, picture: str = ""
    ) -> Iterator[Event]:
        """An agent step, announced empty, then sent again filled in; an image tool's ``picture`` comes in between
        (``message_file``: only agents send one, a chatbot has no tool to make a file), listed in ``message_files``."""
        thought_id, files = ev.new_id(), []
        yield ev.event(run, "agent_thought", id=thought_id, position=position)
        self._pause(1)
        if picture:
            url = self.files.preview_url(self.files.create_tool_file(picture, SUN_PICTURE, "image/png"))
            files.append(ev.event(run, "message_file", id=ev.new_id(), type="image", url=url))
            yield files[-1]
        step = {"thought": thought, "tool_input": json.dumps({tool: {"city": city}}), "observation": observation}
        step.update(tool=tool, tool_labels={tool: {"en_US": tool.replace("_", " ").title()}})
        step["message_files"] = [file["id"] for file in files]
        yield ev.event(run, "agent_thought", id=thought_id, position=position, **step)
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
        return _Graph(self, run, words).run(inputs, system, {"query": query}, text, [query, plan])

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
        after += ["Source. " + self._read_attachment(source) for source in inputs.get("sources") or []]
        text = "\n".join(lines) + "".join(f"\n\n{paragraph}" for paragraph in after)
        prompt = [topic, inputs.get("notes")]
        return _Graph(self, run, words).run(inputs, ev.system_inputs(run), {"topic": topic}, text, prompt)

    def _read_attachment(self, value: dict[str, Any]) -> str:
        """What the app read of a file (a remote one by a GET during the run): name, size, type, a text's first line."""
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


@dataclass
class _Graph:
    """One run of a chatflow or workflow: Start, the nodes the triggers ask for, the LLM node, then Answer or End."""

    apps: DemoApps
    run_: ev.Run
    words: Words
    steps: int = 0  # node executions so far: the last one's ``index``
    exceptions: int = 0

    def run(self, form: Inputs, system: Inputs, llm: Inputs, text: str, prompt: Iterable[Any]) -> Iterator[Event]:
        """``form``: the form's inputs (the Start node's inputs and outputs), to which the run's own inputs add Dify's
        ``system`` variables; ``llm``: the LLM node's inputs; ``prompt``: what its prompt is made of."""
        run, words = self.run_, self.words
        data = {"id": run.workflow_run_id, "workflow_id": run.workflow_id, "inputs": {**form, **system}}
        yield ev.event(run, "workflow_started", {**data, "created_at": run.created_at})
        yield from self._node(_START, form, form, pause=True)
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
        run, words, chat = self.run_, self.words, self.run_.mode == "advanced-chat"
        model = _model_failure(words)
        failure, stopped = "fail" in words or model is not None, "stopped" in words
        started, clock = self._start(_LLM, llm_inputs), time.perf_counter()
        yield started

        def finished(outputs: Event | None, **data: Any) -> Event:
            return ev.node_finished(run, started, outputs, elapsed=time.perf_counter() - clock, **data)

        if "retry" in words:
            late = "[demo] The model did not answer in time; retrying."
            yield finished(None, status="retry", error=late, retry_index=1)
        pieces = _TOKEN.findall(text)
        streamed = pieces[:_FAIL_AFTER_TOKENS] if failure or stopped else pieces
        for number, token in enumerate(streamed):
            self.apps._pause(number)
            chunk = {"text": token, "from_variable_selector": ["llm", "text"]}
            yield ev.message(run, token, ["llm", "text"]) if chat else ev.event(run, "text_chunk", chunk)
            if chat and "tts" in words and number % 4 == 3:
                yield ev.tts_message(run, token)
        prompt_tokens = _prompt_tokens(*prompt)
        total = prompt_tokens + len(streamed)
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
                yield ev.message_end(run, prompt_tokens, len(streamed))
            return
        yield finished({"text": text}, total_tokens=total)
        if "replace" in words:
            text = REPLACED
            yield (
                ev.event(run, "message_replace", answer=text) if chat else ev.event(run, "text_replace", {"text": text})
            )
        outputs = {"answer": text} if chat else {"text": text}
        if "picture" in words and not chat:
            outputs["cover"] = yield from self._cover_image()
        end, end_inputs = (_ANSWER, {}) if chat else (_END, {"text": text})
        yield from self._node(end, end_inputs, outputs, pause=True)
        ended = self._finished("partial-succeeded" if self.exceptions else "succeeded", outputs, None, total)
        if chat:  # measured: a chatflow's message_end comes before its workflow_finished
            yield ev.message_end(run, prompt_tokens, len(pieces))
        yield ended
        if chat and "tts" in words:
            yield from _last_audio(run, pieces)

    def _finished(self, status: str, outputs: Inputs, error: str | None, total: int) -> Event:
        counts = {"total_tokens": total, "total_steps": self.steps, "exceptions_count": self.exceptions}
        return ev.workflow_finished(self.run_, status, outputs, error, **counts)

    def _start(self, node: ev.Node, inputs: Inputs, place: Event | None = None) -> Event:
        self.steps += 1
        return ev.node_started(self.run_, node, self.steps, ev.new_id(), inputs, place or {})

    def _node(
        self,
        node: ev.Node,
        inputs: Inputs,
        outputs: Inputs,
        place: Event | None = None,
        *,
        pause: bool = False,
        inside: Callable[[str], Iterable[Event]] = lambda _: (),
        **finished: Any,
    ) -> Iterator[Event]:
        """A node that starts and finishes at once, with the events ``inside`` it (given its execution id) in between;
        ``pause``: a token's delay before it finishes; ``finished``: its status and error."""
        started = self._start(node, inputs, place)
        yield started
        yield from inside(started["data"]["id"])
        if pause:
            self.apps._pause(1)
        yield ev.node_finished(self.run_, started, outputs, **finished)

    def _form(self, *, filled: bool) -> Iterator[Event]:
        """A human-input node whose form was answered or expired, as a resumed run streams it."""
        about = {"node_id": _HUMAN.node_id, "node_title": _HUMAN.title}
        if filled:
            answered = {"rendered_content": _FORM, "action_id": "approve", "action_text": "Approve"}
            answered["submitted_data"] = {"comment": "Looks good."}
            inside = ev.event(self.run_, "human_input_form_filled", {**about, **answered})
            outputs = {"__action_id": "approve", "comment": "Looks good."}
        else:
            expiration_time = int(time.time()) + _FORM_TIME
            inside = ev.event(self.run_, "human_input_form_timeout", {**about, "expiration_time": expiration_time})
            outputs = {"__action_id": "__timeout"}
        yield from self._node(_HUMAN, {}, outputs, inside=lambda _: [inside])

    def _pause_at_form(self) -> Iterator[Event]:
        """The run stops at a human-input node and waits (the form is delivered to a web app: it has a token)."""
        run, form_id = self.run_, ev.new_id()
        yield self._start(_HUMAN, {})
        actions = [{"id": "approve", "title": "Approve"}, {"id": "reject", "title": "Reject"}]
        data = {"form_id": form_id, "node_id": _HUMAN.node_id, "node_title": _HUMAN.title, "form_content": _FORM}
        data.update(actions=[{**action, "button_style": "default"} for action in actions])
        data.update(form_token=f"demo-form-token-{form_id[:8]}", expiration_time=int(time.time()) + _FORM_TIME)
        required = ev.event(run, "human_input_required", data)
        yield required
        paused = {"workflow_run_id": run.workflow_run_id, "paused_nodes": [_HUMAN.node_id]}
        reasons = [{"type": "human_input_required", **required["data"]}]
        yield ev.event(run, "workflow_paused", {**paused, "reasons": reasons})

    def _container(self, kind: str, node: ev.Node, items: list[Any]) -> Iterator[Event]:
        """An iteration or a loop (``kind``) whose rounds run an inner node each."""
        run, execution_id, started = self.run_, ev.new_id(), time.perf_counter()
        self.steps += 1
        own, inputs = {"id": execution_id, **node._asdict()}, {"items": items}
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
        for label, data in (
            ("ROUND 1", {"thought": "I should call the weather tool."}),
            ("CALL weather", {"output": "Sunny, 21 °C (demo data)"}),
        ):
            log = {"node_execution_id": execution_id, "id": ev.new_id(), "label": label, "data": data}
            yield ev.event(self.run_, "agent_log", {**log, "node_id": _AGENT.node_id})

    def _cover_image(self) -> Generator[Event, None, list[Event]]:
        """A tool node that draws a cover: its ``files`` output, which the End node passes on (and the run's)."""
        stored = self.apps.files.create_tool_file("cover.png", SUN_PICTURE, "image/png")
        files = [ev.file_value(stored, self.apps.files.preview_url(stored))]
        yield from self._node(_COVER, {"style": "sunny"}, {"text": "", "files": files, "json": []})
        return files


def _last_audio(run: ev.Run, pieces: list[str]) -> Iterator[Event]:
    """What Dify's pipelines send once the answer has ended when text-to-speech auto-play is on: the audio still
    being spoken, then ``tts_message_end``, after ``message_end`` (``_wrapper_process_stream_response``)."""
    yield ev.tts_message(run, pieces[-1] if pieces else "")
    yield ev.event(run, "tts_message_end")
