"""The dicts Dify's Service API streams back, each its template (one event of that kind as Dify wrote it, in
``dify_events.json``, whose ``about`` says where each comes from: the recording, else Dify's source), in its key
order, with what varies filled in (ids, text, timing, inputs and outputs, usage): the demo apps decide *what* to say,
the templates *how Dify writes it down*. In front of every event (``error`` included) the app type's response
converter puts its own fields (``api/core/app/apps/*/generate_response_converter.py``, ``Run.around``). Key order
does not matter to a plugin: the daemon decodes each event into a Go map and encodes it again, so the plugin gets
the keys sorted (``devkit.daemon.process.as_relayed``).
"""

import base64
import copy
import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from devkit.daemon.files import DEFAULT_END_USER_ID, TENANT_ID, ToolFile
from devkit.daemon.process import DifyError, DifyServerError

Event = dict[str, Any]
_DOCUMENT = json.loads(Path(__file__).with_name("dify_events.json").read_text(encoding="utf-8"))
# Event kind (or the name of another of Dify's answers: ``blocking chat``, ``tool file``...) -> its template.
TEMPLATES: dict[str, Event] = {**_DOCUMENT["recorded"], **_DOCUMENT["unrecorded"]}
FILE_MODEL_IDENTITY = "__dify__file__"  # a serialized File's ``dify_model_identity``: how Dify and the relay spot it
CHAT_MODES = frozenset({"chat", "agent-chat", "advanced-chat"})
_CONVERTER_FIELDS = ("conversation_id", "message_id", "created_at")
_UNIT_PRICES = {"prompt": Decimal("0.001"), "completion": Decimal("0.002")}
_PRICE_UNIT = Decimal("0.001")  # prices are per 1000 tokens
_PRICE_PLACES = Decimal("0.0000001")

QUOTA_EXCEEDED_MESSAGE = (  # what ``_error_to_stream_response`` writes for a quota error, whatever the exception said
    "Your quota for Dify Hosted Model Provider has been exhausted. "
    "Please go to Settings -> Model Provider to complete your own provider credentials."
)
QUEUE_STOPPED = "queue listening stopped unexpectedly."  # blocking pipelines raise it: the stream had no final event


def new_id() -> str:
    return str(uuid.uuid4())


def app_end_user(app_id: str) -> str:
    """The end user an app's runs belong to. Measured: a plugin's calls run as one end user per app, linked to the
    workspace's default end user (whose id is the per-app user's session id, and the runs' ``sys.user_id``)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"devkit-end-user:{app_id}"))


def filled(template: Event, values: Event) -> Event:
    """A copy of ``template`` with ``values`` in place of its own, in its key order; a key it lacks is a mistake."""
    if unknown := set(values) - set(template):
        raise KeyError(f"not in the template: {sorted(unknown)}")
    return {**copy.deepcopy(template), **values}


@dataclass
class Run:
    """The ids and clock of one app run; every event of the run carries some of them."""

    mode: str  # Dify's app mode (chat, agent-chat, advanced-chat, workflow, completion): the fields around events
    app_id: str
    workflow_id: str | None = None  # workflow-based apps (workflow, chatflow) only
    conversation_id: str | None = None  # chat-type apps (chatbot, agent, chatflow) only
    task_id: str = field(default_factory=new_id)
    message_id: str = field(default_factory=new_id)
    workflow_run_id: str = field(default_factory=new_id)
    created_at: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 4)

    @property
    def easy_ui(self) -> bool:
        """Apps configured without a workflow (chatbot, agent, completion): Dify's "easy UI" pipeline."""
        return self.mode in ("chat", "agent-chat", "completion")

    def around(self) -> Event:
        if self.mode == "workflow":
            return {"workflow_run_id": self.workflow_run_id}
        fields: Event = {} if self.conversation_id is None else {"conversation_id": self.conversation_id}
        return {**fields, "message_id": self.message_id, "created_at": self.created_at}


def event(run: Run, kind: str, data: Event | None = None, **fields: Any) -> Event:
    """Dify's ``kind`` event of ``run``: the converter's fields, then the template's with the run's ids (``task_id``,
    ``workflow_run_id``, ``id``: the message's), ``fields`` and ``data`` filled in (``created_at``, ``finished_at``:
    now unless ``data`` says otherwise)."""
    template = TEMPLATES[kind]
    ids = {"task_id": run.task_id, "workflow_run_id": run.workflow_run_id, "id": run.message_id}
    own = {key: value for key, value in template.items() if key not in _CONVERTER_FIELDS}
    made = filled(own, {**{key: value for key, value in ids.items() if key in own}, **fields})
    if data is not None:
        now = int(time.time())
        times = {key: now for key in ("created_at", "finished_at") if key in template["data"]}
        made["data"] = filled(template["data"], {**times, **data})
    return {"event": kind, **run.around(), **made}


class Node(NamedTuple):
    node_id: str
    node_type: str
    title: str


class Conversations:
    """The conversations Dify holds, id -> (app id, turns so far); safe to use from many threads at once. No user
    in it: Dify runs every plugin call as one user, so any caller that knows an id can continue it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, int]] = {}

    def check(self, app_id: str, mode: str, conversation_id: str) -> str:
        """The conversation a call continues (``""``: a new one), or Dify's refusal (measured on 1.16.0-rc1)."""
        if not conversation_id:
            return ""
        try:
            uuid.UUID(conversation_id)
        except ValueError:  # the database refuses it: Dify's generic 500
            raise DifyServerError(f'invalid input syntax for type uuid: "{conversation_id}"') from None
        with self._lock:
            owner, _ = self._held.get(conversation_id, ("", 0))
        if owner == app_id:
            return conversation_id
        if mode == "advanced-chat":
            # A service-API chatflow call swallows the unknown conversation and runs in a new one: the first event's
            # conversation_id differs from the one sent.
            return ""
        raise DifyError("")  # ConversationNotExistsError() carries no message: Dify's 400 says nothing

    def next_turn(self, app_id: str, conversation_id: str) -> tuple[str, int]:
        """Count one more turn of a checked conversation (a new one for ``""``): its id and the turn's number."""
        with self._lock:
            conversation_id = conversation_id or new_id()
            _, turns = self._held.get(conversation_id, (app_id, 0))
            self._held[conversation_id] = (app_id, turns + 1)
            return conversation_id, turns + 1

    def turns(self) -> dict[str, int]:
        with self._lock:
            return {conversation: turns for conversation, (_, turns) in self._held.items()}


def app_of[App](apps: Mapping[str, App], request: Mapping[str, Any]) -> App:
    """The app a call names, or Dify's refusal (any id, UUID or not)."""
    if (app := apps.get(str(request.get("app_id") or ""))) is None:
        raise DifyError("app not found")
    return app


def accepted(
    app_id: str, mode: str, request: Mapping[str, Any], conversations: Conversations
) -> tuple[str, bool, str, Mapping[str, Any]]:
    """Dify's refusals of a call before it looks at the inputs, in Dify's order: a chat-type app needs a query, an
    agent refuses blocking mode, a conversation is checked (``Conversations.check``). Returns the query, whether
    the call streams, the conversation it continues (``""``: a new one) and the inputs sent."""
    query = str(request.get("query") or "")
    streaming = request.get("response_mode") == "streaming"
    if mode in CHAT_MODES and not query:
        raise DifyError("missing query")
    if mode == "agent-chat" and not streaming:
        raise DifyError("Agent Chat App does not support blocking mode")
    conversation_id = str(request.get("conversation_id") or "")
    conversation_id = conversations.check(app_id, mode, conversation_id) if mode in CHAT_MODES else ""
    inputs = request.get("inputs")
    return query, streaming, conversation_id, inputs if isinstance(inputs, Mapping) else {}


def message(run: Run, answer: str, selector: list[str] | None = None) -> Event:
    """A piece of the answer; a chatflow's names the variable it streams (``["llm", "text"]``)."""
    return event(run, "message", answer=answer, from_variable_selector=selector)


def message_end(run: Run, prompt_tokens: int, completion_tokens: int) -> Event:
    """The end of an answer: ``usage`` is Dify's ``LLMUsage`` (prices as decimal strings), ``annotation_reply`` null
    unless an annotation answered; easy UI: ``files`` null, no ``reasoning``; chatflow: ``files`` a list, plus
    ``reasoning``."""
    latency = run.elapsed
    usage: Event = {"total_tokens": prompt_tokens + completion_tokens, "currency": "USD", "latency": latency}
    prices = []
    for kind, tokens in (("prompt", prompt_tokens), ("completion", completion_tokens)):
        prices.append((tokens * _UNIT_PRICES[kind] * _PRICE_UNIT).quantize(_PRICE_PLACES))
        usage.update({f"{kind}_tokens": tokens, f"{kind}_unit_price": str(_UNIT_PRICES[kind])})
        usage.update({f"{kind}_price_unit": str(_PRICE_UNIT), f"{kind}_price": str(prices[-1])})
    usage.update(total_price=str(sum(prices)), time_to_first_token=0.0, time_to_generate=max(latency, 0.0))
    end = event(run, "message_end", files=None if run.easy_ui else [])
    end["metadata"]["usage"] = filled(end["metadata"]["usage"], usage)
    if run.easy_ui:
        del end["metadata"]["reasoning"]
    return end


def tts_message(run: Run, spoken: str) -> Event:
    """A piece of the answer read aloud (text-to-speech auto-play on): base64 MP3, here a stand-in for ``spoken``."""
    return event(run, "tts_message", audio=base64.b64encode(b"\xff\xf3\x44\xc4" + spoken.encode()).decode())


def error(run: Run, code: str, message_: str) -> Event:
    """An error Dify reports inside the stream, after which the stream ends (``_error_to_stream_response``): no
    ``task_id``, no ``id``. A quota error's message is the table's own, written before the status."""
    if code == "provider_quota_exceeded":
        return {"event": "error", **run.around(), "code": code, "message": QUOTA_EXCEEDED_MESSAGE, "status": 400}
    return event(run, "error", code=code, status=400, message=message_)


def file_type(mimetype: str) -> str:
    """The kind Dify gives a tool file by its MIME type (``get_file_type_by_mime_type``)."""
    major, slash, _ = mimetype.partition("/")
    if slash and major in ("image", "video", "audio"):
        return major
    return "document" if (slash and major == "text") or mimetype == "application/pdf" else "custom"


def file_value(stored: ToolFile, url: str) -> Event:
    """A tool file in a workflow's outputs or a node's ``files``, as ``File.to_dict`` writes it: the model's fields
    (no message file id, the unsigned path as ``remote_url``) and the signed ``url``."""
    values = {"tenant_id": TENANT_ID, "type": file_type(stored.mimetype), "related_id": stored.id}
    values.update(remote_url=f"/files/tools/{stored.id}{stored.extension}", filename=stored.name, url=url)
    values.update(extension=stored.extension, mime_type=stored.mimetype, size=stored.size)
    return filled(TEMPLATES["tool file"], values)


def files_in(outputs: dict[str, Any] | None) -> list[Event]:
    """The files among a node's or a run's outputs, which Dify repeats as the event's ``files``
    (``WorkflowResponseConverter.fetch_files_from_node_outputs``): each output that is a file or a list of files."""
    items = [item for value in (outputs or {}).values() for item in (value if isinstance(value, list) else [value])]
    return [item for item in items if isinstance(item, dict) and item.get("dify_model_identity") == FILE_MODEL_IDENTITY]


def system_inputs(run: Run, *, query: str | None = None, dialogue_count: int | None = None) -> Event:
    """The system variables a run's ``workflow_started`` lists after the form's inputs, in the recorded order: a
    chatflow's with its query and turn (and no ``sys.conversation_id``), a workflow's without."""
    values = {
        "sys.query": query,
        "sys.files": [],
        "sys.user_id": DEFAULT_END_USER_ID,
        "sys.dialogue_count": dialogue_count,
        "sys.app_id": run.app_id,
        "sys.workflow_id": run.workflow_id,
        "sys.workflow_run_id": run.workflow_run_id,
    }
    if run.mode != "advanced-chat":
        del values["sys.query"], values["sys.dialogue_count"]
    return values


def node_started(run: Run, node: Node, index: int, execution_id: str, inputs: Event, place: Event) -> Event:
    """A node execution begins; ``place``: the ``iteration_id`` or ``loop_id`` of the container it runs in."""
    return event(run, "node_started", {"id": execution_id, **node._asdict(), "index": index, "inputs": inputs, **place})


def node_finished(
    run: Run,
    started: Event,
    outputs: Event | None,
    *,
    elapsed: float = 0.0,
    total_tokens: int = 0,
    retry_index: int | None = None,
    **data: Any,
) -> Event:
    """The end of the node execution ``started`` announced; ``data`` may set ``error`` and ``status``: failed,
    exception (failed, but its error strategy let the run go on), or retry (a ``node_retry`` event, ``retry_index``)."""
    shared = ("id", "node_id", "node_type", "title", "index", "inputs", "iteration_id", "loop_id")
    data.update({key: started["data"][key] for key in shared}, outputs=outputs, files=files_in(outputs))
    metadata = {"total_tokens": total_tokens} if total_tokens else None
    finished = event(run, "node_finished", {**data, "elapsed_time": round(elapsed, 4), "execution_metadata": metadata})
    if retry_index is not None:  # Dify's NodeRetryStreamResponse: the finished node's data and its retry index
        finished.update(event="node_retry")
        finished["data"]["retry_index"] = retry_index
    return finished


def workflow_finished(run: Run, status: str, outputs: Event | None, error_: str | None, **counts: int) -> Event:
    """The end of a run (succeeded, failed, stopped or partial-succeeded; ``counts``: ``total_tokens``, ``total_steps``,
    ``exceptions_count``); ``created_by`` is the run's end user (``app_end_user``)."""
    data = {"id": run.workflow_run_id, "workflow_id": run.workflow_id, "status": status, "outputs": outputs}
    data.update({"error": error_, "elapsed_time": run.elapsed, "exceptions_count": 0, **counts})
    created_by = {"id": app_end_user(run.app_id), "user": DEFAULT_END_USER_ID}
    data.update(created_by=created_by, created_at=run.created_at, files=files_in(outputs))
    return event(run, "workflow_finished", data)


def blocking_result(mode: str, events: Iterable[Event]) -> Event:
    """A blocking call's answer, keyed as the recorded ones: a workflow's run, or the whole answer in one ``message``
    dict. An ``error`` event becomes Dify's exception: ``invalid_param`` (``ValueError``, e.g. a chatflow's "Run
    failed: ...") is HTTP 400, the rest (model errors) its generic 500; no final event: ``QUEUE_STOPPED``."""
    answer: list[str] = []
    for got in events:
        kind = got.get("event")
        if kind in ("message", "agent_message"):
            answer.append(got["answer"])
        elif kind == "message_replace":
            answer = [got["answer"]]
        elif kind == "error":
            refusal = DifyError if got.get("code") == "invalid_param" else DifyServerError
            raise refusal(str(got.get("message") or ""))
        elif kind == "message_end":
            source = {**got, "event": "message", "mode": mode, "answer": "".join(answer)}
            return {key: source[key] for key in TEMPLATES["blocking chat"] if key in source}
        elif kind == "workflow_finished" and mode == "workflow":
            shape = TEMPLATES["blocking workflow"]
            return {**{key: got[key] for key in shape}, "data": {key: got["data"][key] for key in shape["data"]}}
    raise DifyError(QUEUE_STOPPED)
