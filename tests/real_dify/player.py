"""The apps real Dify 1.16.0-rc1 was recorded with, answering as it answered: an ``AppBackend`` for tests.

``RecordedDify`` holds the seven apps of ``tests/fixtures/real_dify`` under their recorded ids. Its streams are the
recorded frames replayed (``tests/real_dify/recording.py``): the same events, in the same order, with the same keys in
Dify's order; only what a new run changes is new: ids (conversation, message, task, run, node executions),
timestamps, and the values that come from the call (the query, the inputs, the text made of them). Its refusals
are Dify's, in Dify's order:

* those of any app (``events.app_of``, ``events.accepted``): an unknown app, a chat-type app without a query, an
  agent in blocking mode, a ``conversation_id`` that is not a UUID (the generic 500), or unknown or of another app
  (a chatflow runs in a *new* conversation; chat and agent apps refuse it with an empty message);
* a completion app: Dify's generic 500 in both modes, as measured (the plugin path calls the completion generator
  without a ``query``: a ``KeyError``); ``completion_fixed=True`` plays a Dify that fixed it, which then refuses it
  as it refuses the chat and agent apps, made from Dify's templates with the ``openai`` provider, which was not
  installed: "Provider openai does not exist." in both modes, after the conversation check;
* inputs: Dify's checks (``devkit/demo/inputs.py``), files included: no tool file is readable (a plugin's upload
  belongs to another end user of the workspace: "ToolFile <id> not found"), a console upload is "Invalid upload
  file", and remote files go through ``devkit/demo/remote.py`` (``reachable`` says which URLs answer).

Blocking calls run the stream and answer as Dify's blocking mode does (``events.blocking_result``): a failed
chatflow is refused with its "Run failed: ..." (HTTP 400), a failed workflow is a result with status ``failed``.
Not recorded, so not played: model errors, paused runs, apps with a model, the daemon's own refusals (a wrong inner
API key, an unknown tenant), SSRF refusals of private addresses.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.daemon.files import FileService
from devkit.daemon.process import DifyError, DifyServerError
from devkit.demo import events as ev
from devkit.demo.inputs import Field, fields_of, validate_inputs
from devkit.demo.remote import RemoteFiles
from tests.real_dify.recording import RECORDING, RecordedCase, load

CHATFLOW_APP_ID = "a79750c3-505c-4037-ab76-911d93764c67"
WORKFLOW_APP_ID = "f5c47f36-3a4a-483d-9786-c3bbe509e0c0"
CHATFLOW_FAIL_APP_ID = "5c9db094-84a1-48ee-b75a-1f1c44b22714"
WORKFLOW_FAIL_APP_ID = "f9eeee4d-781b-4bb1-8f11-f88311e58fbc"
# Every call to these three was refused, so no frame names them: their ids here are the devkit's.
CHAT_APP_ID = "3e0b6c1d-8f2a-4d5e-9b7c-6a1f0e2d3c4b"
AGENT_APP_ID = "7d2f9a4e-1c6b-4e8d-a3f5-0b9c8d7e6f5a"
COMPLETION_APP_ID = "b4c8e2f6-5a3d-4f1e-8c9b-2d7a6e5f4c3b"

NO_PROVIDER = "Provider openai does not exist."
COMPLETION_CRASH = "KeyError: 'query'"
"""What Dify 1.16.0-rc1's completion generator raises for every plugin call; the plugin sees only the generic 500."""


@dataclass(frozen=True)
class RecordedApp:
    """One recorded app: what ``fetch_app`` answered for it and which recorded call its runs replay."""

    name: str
    app_id: str
    mode: str
    parameters: Mapping[str, Any]
    stream: str | None = None
    """The recorded streaming call whose frames every run of this app replays."""

    @property
    def fields(self) -> tuple[Field, ...]:
        return fields_of(list(self.parameters.get("user_input_form") or []))


def recorded_apps(cases: Mapping[str, RecordedCase]) -> tuple[RecordedApp, ...]:
    """The recorded apps, their parameters as ``fetch_app`` returned them.

    The two failing apps' parameters were not recorded: they are the chatflow's, without its input (their start
    nodes have none, as their frames show).
    """
    names = ("chatflow", "workflow", "chat", "agent", "completion")
    fetched = {name: dict(cases[f"fetch_app {name}"].plugin_gets) for name in names}
    no_inputs = {**fetched["chatflow"], "user_input_form": []}
    return (
        RecordedApp("chatflow", CHATFLOW_APP_ID, "advanced-chat", fetched["chatflow"], "chatflow stream ok"),
        RecordedApp("workflow", WORKFLOW_APP_ID, "workflow", fetched["workflow"], "workflow stream ok"),
        RecordedApp("chatflow_fail", CHATFLOW_FAIL_APP_ID, "advanced-chat", no_inputs, "chatflow_fail stream"),
        RecordedApp("workflow_fail", WORKFLOW_FAIL_APP_ID, "workflow", no_inputs, "workflow fail stream"),
        RecordedApp("chat", CHAT_APP_ID, "chat", fetched["chat"]),
        RecordedApp("agent", AGENT_APP_ID, "agent-chat", fetched["agent"]),
        RecordedApp("completion", COMPLETION_APP_ID, "completion", fetched["completion"]),
    )


class RecordedDify:
    """An ``AppBackend`` that answers as the recorded Dify did; safe to call from many threads at once."""

    def __init__(
        self,
        recording: Path = RECORDING,
        *,
        reachable: Mapping[str, bytes] | None = None,
        completion_fixed: bool = False,
    ) -> None:
        """``reachable``: URL -> the bytes it serves, the only URLs Dify can fetch. ``completion_fixed``: play a
        Dify whose plugin path runs completion apps (1.16.0-rc1's never does)."""
        self.cases = load(recording)
        self.apps = recorded_apps(self.cases)
        self.reachable = dict(reachable or {})
        self.completion_fixed = completion_fixed
        self.files = FileService()
        """Dify's files service: the plugin's uploads land here (and, as in Dify, no app can read them)."""
        self._by_id = {app.app_id: app for app in self.apps}
        self._conversations = ev.Conversations()

    # -- AppBackend --------------------------------------------------------------------------------------------

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return copy.deepcopy(dict(ev.app_of(self._by_id, {"app_id": app_id}).parameters))

    def invoke_app(self, request: dict[str, Any]) -> Iterable[ev.Event]:
        """Refuse as Dify refuses (raising at once), else the run's events, or its one blocking result."""
        app = ev.app_of(self._by_id, request)
        if app.mode == "completion":
            raise DifyError(NO_PROVIDER) if self.completion_fixed else DifyServerError(COMPLETION_CRASH)
        query, streaming, conversation_id, sent = ev.accepted(app.app_id, app.mode, request, self._conversations)
        if app.mode in ("chat", "agent-chat"):  # their model's provider is checked after the conversation
            raise DifyError(NO_PROVIDER)
        # Links to Dify's own files service are told apart by its address (which starts the service).
        with_files = any(entry.kind in ("file", "file-list") for entry in app.fields)
        remote = RemoteFiles(self.reachable, self.files.base_url) if with_files else None
        inputs = validate_inputs(app.fields, sent, tool_files=(), remote=remote)
        turn = 0
        if app.mode in ev.CHAT_MODES:
            conversation_id, turn = self._conversations.next_turn(app.app_id, conversation_id)
        events = _Run(self.cases[str(app.stream)], query, inputs, conversation_id, turn).events()
        return iter(events) if streaming else [ev.blocking_result(app.mode, events)]


@dataclass
class _Run:
    """One run replayed from a recorded stream: fresh ids and times, the call's values where the call shows."""

    template: RecordedCase
    query: str
    inputs: dict[str, Any]
    conversation_id: str
    turn: int
    now: int = field(default_factory=lambda: int(time.time()))
    _ids: dict[str, str] = field(default_factory=dict)
    _recorded_pieces: list[str] = field(default_factory=list)
    _pieces: list[str] = field(default_factory=list)

    def events(self) -> list[ev.Event]:
        events = [self._piece(copy.deepcopy(event)) for event in self.template.events]
        for event in events:
            self._refresh(event)
            self._fill(event)
        return events

    def _fresh(self, recorded: Any) -> Any:
        """A new id for a recorded one, the same each time it recurs (a run's id is also its ``data.id``)."""
        if not isinstance(recorded, str):
            return recorded
        return self._ids.setdefault(recorded, ev.new_id())

    def _piece(self, event: ev.Event) -> ev.Event:
        """A streamed piece of text takes the value of the variable it came from; literal text stays."""
        kind = event.get("event")
        if kind not in ("message", "text_chunk"):
            return event
        holder, key = (event, "answer") if kind == "message" else (event["data"], "text")
        self._recorded_pieces.append(str(holder[key]))
        selector = holder.get("from_variable_selector") or []
        pool = {"sys": {"query": self.query}, "start": self.inputs}
        if len(selector) == 2 and selector[0] in pool:
            holder[key] = _text(pool[selector[0]].get(selector[1]))
        self._pieces.append(str(holder[key]))
        return event

    def _refresh(self, event: ev.Event) -> None:
        if "conversation_id" in event:
            event["conversation_id"] = self.conversation_id
        for key in ("message_id", "task_id", "workflow_run_id", "id"):
            if key in event:
                event[key] = self._fresh(event[key])
        if "created_at" in event:
            event["created_at"] = self.now
        data = event.get("data")
        if isinstance(data, dict):
            if "id" in data:
                data["id"] = self._fresh(data["id"])
            for key in ("created_at", "finished_at"):
                if key in data:
                    data[key] = self.now

    def _fill(self, event: ev.Event) -> None:
        """The values of a run's events that depend on the call."""
        kind, data = event.get("event"), event.get("data")
        if not isinstance(data, dict):
            return
        if kind == "workflow_started":
            data["inputs"] = self._start_inputs(data["inputs"])
        elif kind == "node_finished" and data.get("node_type") == "start":
            data["inputs"], data["outputs"] = dict(self.inputs), dict(self.inputs)
            data["files"] = ev.files_in(data["outputs"])
        elif kind == "node_finished":
            for key in ("inputs", "outputs"):
                if isinstance(data.get(key), dict):
                    data[key] = self._values(data[key])
            data["files"] = ev.files_in(data.get("outputs"))
        elif kind == "workflow_finished":
            data["outputs"] = self._values(data.get("outputs") or {})
            data["files"] = ev.files_in(data["outputs"])

    def _start_inputs(self, recorded: Mapping[str, Any]) -> dict[str, Any]:
        """The run's inputs: the form's, then Dify's system variables in the recorded order."""
        inputs = dict(self.inputs)
        for key, value in recorded.items():
            if not key.startswith("sys."):
                continue
            if key == "sys.query":
                value = self.query
            elif key == "sys.dialogue_count":
                value = self.turn
            elif key == "sys.workflow_run_id":
                value = self._fresh(value)
            inputs[key] = value
        return inputs

    def _values(self, recorded: Mapping[str, Any]) -> dict[str, Any]:
        """Node or run outputs: an input passed through is the call's input; an answer is made of the streamed
        pieces it was recorded as (``"You said " + query + ...``)."""
        values: dict[str, Any] = {}
        for key, value in recorded.items():
            if key in self.inputs:
                value = self.inputs[key]
            elif isinstance(value, str):
                value = self._rebuilt(value)
            values[key] = value
        return values

    def _rebuilt(self, recorded: str) -> str:
        """The text made of the same streamed pieces as ``recorded`` was, or ``recorded`` when none made it."""
        pieces = self._recorded_pieces
        if not recorded:
            return recorded
        for start in range(len(pieces)):
            for end in range(start + 1, len(pieces) + 1):
                if "".join(pieces[start:end]) == recorded:
                    return "".join(self._pieces[start:end])
        return recorded


def _text(value: Any) -> str:
    """A variable as an answer or end node writes it into text: nothing for an unset one, a number as written, a
    file as a markdown link (files in streamed text were not recorded)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and value.get("dify_model_identity") == ev.FILE_MODEL_IDENTITY:
        return f"[{value.get('filename')}]({value.get('url')})"
    return str(value)
