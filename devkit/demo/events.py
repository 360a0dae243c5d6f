"""Builders for the dicts Dify's Service API streams back, so demo apps look like real ones to the relay.

Each builder returns one event as Dify shapes it (field names, nesting, types: ``created_at`` in whole seconds,
``elapsed_time`` in float seconds, prices as decimal strings). The demo apps decide *what* to say; this module
only knows *how Dify writes it down*. Where the shapes come from, in langgenius/dify:

* ``api/core/app/entities/task_entities.py``: the stream responses (``MessageStreamResponse``,
  ``MessageEndStreamResponse``, ``NodeStartStreamResponse``, ``WorkflowFinishStreamResponse``, ...);
* ``api/core/app/apps/*/generate_response_converter.py``: what each app type puts around them. Chat-type apps add
  ``conversation_id``, ``message_id`` and ``created_at`` to every event, completion apps ``message_id`` and
  ``created_at``, workflow apps ``workflow_run_id``;
* ``api/core/app/apps/base_app_generate_response_converter.py`` (``_error_to_stream_response``): an ``error`` event
  is those added fields plus ``code``, ``status`` and ``message`` only: no ``task_id``, no ``id``;
* ``web/types/workflow.ts``: the fields of the newer events (``workflow_paused``, the human-input events, node
  ``iteration_id`` / ``loop_id``), as Dify's own front end reads them.

Where Dify 1.16.0-rc1 was recorded (``tests/fixtures/real_dify``: chatflows and workflows without a model), the
builders write the recorded keys in the recorded order; ``tests/devkit/demo/test_events_as_recorded.py`` holds them
to it. Key order does not matter to a plugin, though: the daemon decodes each event into a Go map and encodes it
again, so the plugin receives the keys sorted (see ``devkit.daemon.process.as_relayed``).
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from devkit.daemon.files import DEFAULT_END_USER_ID, TENANT_ID, ToolFile

Event = dict[str, Any]
FILE_MODEL_IDENTITY = "__dify__file__"
"""``dify_model_identity`` of a serialized ``File``: how Dify (and the relay) tell a file from any other dict."""
_FILE_TYPES_BY_PREFIX = (("image/", "image"), ("video/", "video"), ("audio/", "audio"))


_PROMPT_UNIT_PRICE = Decimal("0.001")
_COMPLETION_UNIT_PRICE = Decimal("0.002")
_PRICE_UNIT = Decimal("0.001")  # prices are per 1000 tokens
_PRICE_PLACES = Decimal("0.0000001")

# What ``_error_to_stream_response`` writes for each kind of model error, in its key order; ``None`` messages are
# filled with the exception's description.
QUOTA_EXCEEDED_MESSAGE = (
    "Your quota for Dify Hosted Model Provider has been exhausted. "
    "Please go to Settings -> Model Provider to complete your own provider credentials."
)
INTERNAL_ERROR_MESSAGE = "Internal Server Error, please contact support."


def new_id() -> str:
    return str(uuid.uuid4())


def app_end_user(app_id: str) -> str:
    """The end user an app's runs belong to. Measured: a plugin's calls run as one end user per app, linked to the
    workspace's default end user (whose id is the per-app user's session id, and the runs' ``sys.user_id``)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"devkit-end-user:{app_id}"))


@dataclass
class Run:
    """The ids and clock of one app run; every event of the run carries some of them."""

    mode: str = "chat"
    """Dify's app mode: chat, agent-chat, advanced-chat, workflow or completion; decides the fields around events."""
    conversation_id: str | None = None
    """Set for chat-type apps (chatbot, agent, chatflow); completion and workflow events have none."""
    workflow_id: str | None = None
    """Set for workflow-based apps (workflow, chatflow)."""
    app_id: str = ""
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
        """The fields the app type's response converter puts around every event (``error`` included)."""
        if self.mode == "workflow":
            return {"workflow_run_id": self.workflow_run_id}
        fields: Event = {}
        if self.conversation_id is not None:
            fields["conversation_id"] = self.conversation_id
        fields.update(message_id=self.message_id, created_at=self.created_at)
        return fields

    def message_fields(self) -> Event:
        """What every message-like event of a chat or completion app carries: the converter's fields and ids."""
        return {**self.around(), "task_id": self.task_id, "id": self.message_id}

    def workflow_fields(self) -> Event:
        """What every workflow event carries; a chatflow's also carry the converter's message fields."""
        return {**self.around(), "task_id": self.task_id, "workflow_run_id": self.workflow_run_id}


@dataclass(frozen=True)
class Node:
    """One node of a demo workflow graph."""

    node_id: str
    node_type: str
    title: str


def usage(prompt_tokens: int, completion_tokens: int, latency: float, first_token: float = 0.0) -> Event:
    """``metadata.usage`` of ``message_end`` (Dify's ``LLMUsage``); ``first_token``: seconds to the first token."""
    prompt_price = (prompt_tokens * _PROMPT_UNIT_PRICE * _PRICE_UNIT).quantize(_PRICE_PLACES)
    completion_price = (completion_tokens * _COMPLETION_UNIT_PRICE * _PRICE_UNIT).quantize(_PRICE_PLACES)
    return {
        "prompt_tokens": prompt_tokens,
        "prompt_unit_price": str(_PROMPT_UNIT_PRICE),
        "prompt_price_unit": str(_PRICE_UNIT),
        "prompt_price": str(prompt_price),
        "completion_tokens": completion_tokens,
        "completion_unit_price": str(_COMPLETION_UNIT_PRICE),
        "completion_price_unit": str(_PRICE_UNIT),
        "completion_price": str(completion_price),
        "total_tokens": prompt_tokens + completion_tokens,
        "total_price": str(prompt_price + completion_price),
        "currency": "USD",
        "latency": round(latency, 4),
        "time_to_first_token": round(first_token, 4),
        "time_to_generate": round(max(latency - first_token, 0.0), 4),
    }


# -- chat and completion events ------------------------------------------------------------------------------------


def message(run: Run, answer: str, selector: list[str] | None = None) -> Event:
    """A piece of the answer; a chatflow's names the variable it streams (``["llm", "text"]``)."""
    return {"event": "message", **run.message_fields(), "answer": answer, "from_variable_selector": selector}


def agent_message(run: Run, answer: str) -> Event:
    return {"event": "agent_message", **run.message_fields(), "answer": answer}


def message_replace(run: Run, answer: str, reason: str = "output_moderation") -> Event:
    """The whole answer replaced, as output moderation does after the fact."""
    return {"event": "message_replace", **run.around(), "task_id": run.task_id, "answer": answer, "reason": reason}


def agent_thought(
    run: Run,
    thought_id: str,
    position: int,
    *,
    thought: str = "",
    tool: str = "",
    tool_input: str = "",
    observation: str = "",
    message_files: tuple[str, ...] = (),
) -> Event:
    """An agent step; Dify announces each step empty first, then sends it again filled in. ``message_files``
    lists the ids of the files its tool made (each announced before by a ``message_file`` event)."""
    return {
        "event": "agent_thought",
        **run.around(),
        "task_id": run.task_id,
        "id": thought_id,
        "position": position,
        "thought": thought,
        "observation": observation,
        "tool": tool,
        "tool_labels": {tool: {"en_US": tool.replace("_", " ").title()}} if tool else {},
        "tool_input": tool_input,
        "message_files": list(message_files),
    }


def message_file(run: Run, message_file_id: str, url: str, kind: str) -> Event:
    """A file the app made, e.g. by an agent's tool (``MessageFileStreamResponse``): the message file's own id, its
    type, who it belongs to (the assistant), and the tool file's signed link (``ToolFileManager.sign_file``)."""
    return {
        "event": "message_file",
        **run.around(),
        "task_id": run.task_id,
        "id": message_file_id,
        "type": kind,
        "belongs_to": "assistant",
        "url": url,
    }


def file_type(mimetype: str) -> str:
    """The kind Dify gives a tool file by its type (``get_file_type_by_mime_type``)."""
    kind = next((kind for prefix, kind in _FILE_TYPES_BY_PREFIX if mimetype.startswith(prefix)), None)
    if kind is not None:
        return kind
    return "document" if mimetype.startswith("text/") or mimetype == "application/pdf" else "custom"


def file_value(stored: ToolFile, url: str) -> Event:
    """A tool file in a workflow's outputs or a node's ``files``, as ``File.to_dict`` writes it: the model's fields
    (no message file id, the unsigned path as ``remote_url``) and the signed ``url``."""
    return {
        "dify_model_identity": FILE_MODEL_IDENTITY,
        "id": None,
        "tenant_id": TENANT_ID,
        "type": file_type(stored.mimetype),
        "transfer_method": "tool_file",
        "remote_url": f"/files/tools/{stored.id}{stored.extension}",
        "related_id": stored.id,
        "filename": stored.name,
        "extension": stored.extension,
        "mime_type": stored.mimetype,
        "size": stored.size,
        "url": url,
    }


def files_in(outputs: dict[str, Any] | None) -> list[Event]:
    """The files among a node's or a run's outputs, which Dify repeats as the event's ``files``
    (``WorkflowResponseConverter.fetch_files_from_node_outputs``): each output that is a file or a list of files."""
    found: list[Event] = []
    for value in (outputs or {}).values():
        items = value if isinstance(value, list) else [value]
        found += [
            item for item in items if isinstance(item, dict) and item.get("dify_model_identity") == FILE_MODEL_IDENTITY
        ]
    return found


def message_end(run: Run, usage_: Event) -> Event:
    """The end of an answer. The easy-UI pipeline sends ``files`` as null, a chatflow a list; both send the task
    state's metadata, which always has ``annotation_reply`` (null unless an annotation answered), and a chatflow's
    also ``reasoning`` (recorded empty)."""
    metadata: Event = {"annotation_reply": None, "retriever_resources": [], "usage": usage_}
    if not run.easy_ui:
        metadata["reasoning"] = {}
    return {"event": "message_end", **run.message_fields(), "metadata": metadata, "files": None if run.easy_ui else []}


def tts_message(run: Run, audio: bytes) -> Event:
    """A piece of the answer read aloud (only when the app has text-to-speech auto-play on): base64 MP3 bytes."""
    return {"event": "tts_message", **run.around(), "task_id": run.task_id, "audio": base64.b64encode(audio).decode()}


def tts_message_end(run: Run) -> Event:
    return {"event": "tts_message_end", **run.around(), "task_id": run.task_id, "audio": ""}


def error(run: Run, code: str, message_: str, status: int = 400) -> Event:
    """An error Dify reports inside the stream, after which the stream ends: the converter's fields, then
    ``code``, ``status``, ``message`` in ``_error_to_stream_response``'s order; no ``task_id``, no ``id``."""
    body: Event = {"code": code, "status": status, "message": message_}
    if code == "provider_quota_exceeded":  # its message is a literal of the table, placed before status
        body = {"code": code, "message": QUOTA_EXCEEDED_MESSAGE, "status": status}
    elif code == "internal_server_error":
        body = {"code": code, "message": INTERNAL_ERROR_MESSAGE, "status": 500}
    return {"event": "error", **run.around(), **body}


# -- workflow events -----------------------------------------------------------------------------------------------


def workflow_started(run: Run, inputs: dict[str, Any]) -> Event:
    """A run begins; ``inputs`` are the form's, then the system variables (``system_inputs``)."""
    data = {
        "id": run.workflow_run_id,
        "workflow_id": run.workflow_id,
        "inputs": inputs,
        "created_at": run.created_at,
        "reason": "initial",
    }
    return {"event": "workflow_started", **run.workflow_fields(), "data": data}


def system_inputs(run: Run, *, query: str | None = None, dialogue_count: int | None = None) -> Event:
    """The system variables a run's ``workflow_started`` lists after the form's inputs, as recorded: a chatflow's
    with its query and turn (and no ``sys.conversation_id``), a workflow's without."""
    chat = run.mode == "advanced-chat"
    system: Event = {"sys.query": query} if chat else {}
    system.update({"sys.files": [], "sys.user_id": DEFAULT_END_USER_ID})
    if chat:
        system["sys.dialogue_count"] = dialogue_count
    system.update(
        {"sys.app_id": run.app_id, "sys.workflow_id": run.workflow_id, "sys.workflow_run_id": run.workflow_run_id}
    )
    return system


@dataclass(frozen=True)
class Place:
    """Where a node execution runs: at the top of the graph, or inside an iteration or a loop."""

    iteration_id: str | None = None
    loop_id: str | None = None


TOP = Place()


def _node_execution(node: Node, index: int, node_execution_id: str, inputs: dict[str, Any] | None) -> Event:
    """The fields Dify repeats in every event of one node execution."""
    return {
        "id": node_execution_id,
        "node_id": node.node_id,
        "node_type": node.node_type,
        "title": node.title,
        "index": index,
        "predecessor_node_id": None,
        "inputs": inputs,
        "inputs_truncated": False,
    }


def node_started(
    run: Run, node: Node, index: int, node_execution_id: str, inputs: dict[str, Any] | None, place: Place = TOP
) -> Event:
    data = {
        **_node_execution(node, index, node_execution_id, inputs),
        "created_at": int(time.time()),
        "extras": {},
        "iteration_id": place.iteration_id,
        "loop_id": place.loop_id,
        "agent_strategy": None,
    }
    return {"event": "node_started", **run.workflow_fields(), "data": data}


def node_finished(
    run: Run,
    node: Node,
    index: int,
    node_execution_id: str,
    *,
    inputs: dict[str, Any] | None,
    outputs: dict[str, Any] | None,
    elapsed_time: float,
    status: str = "succeeded",
    error_: str | None = None,
    total_tokens: int = 0,
    place: Place = TOP,
    event: str = "node_finished",
    retry_index: int | None = None,
) -> Event:
    """A node execution's end. ``status`` is succeeded, failed, exception (failed, but its error strategy let the
    run go on) or retry (with ``event="node_retry"``)."""
    now = int(time.time())
    data = {
        **_node_execution(node, index, node_execution_id, inputs),
        "process_data": {},
        "process_data_truncated": False,
        "outputs": outputs,
        "outputs_truncated": False,
        "status": status,
        "error": error_,
        "elapsed_time": round(elapsed_time, 4),
        "execution_metadata": {"total_tokens": total_tokens} if total_tokens else None,
        "created_at": now,
        "finished_at": now,
        "files": files_in(outputs),
        "iteration_id": place.iteration_id,
        "loop_id": place.loop_id,
    }
    if retry_index is not None:
        data["retry_index"] = retry_index
    return {"event": event, **run.workflow_fields(), "data": data}


def text_chunk(run: Run, text: str, selector: list[str]) -> Event:
    return {"event": "text_chunk", **run.workflow_fields(), "data": {"text": text, "from_variable_selector": selector}}


def text_replace(run: Run, text: str) -> Event:
    """A workflow's streamed text replaced as a whole (output moderation)."""
    return {"event": "text_replace", **run.workflow_fields(), "data": {"text": text}}


def _container_base(node: Node, execution_id: str) -> Event:
    return {"id": execution_id, "node_id": node.node_id, "node_type": node.node_type, "title": node.title}


def container_started(run: Run, kind: str, node: Node, execution_id: str, inputs: dict[str, Any], length: int) -> Event:
    """``iteration_started`` or ``loop_started`` (``kind`` is iteration or loop)."""
    data = {
        **_container_base(node, execution_id),
        "created_at": int(time.time()),
        "extras": {},
        "metadata": {f"{kind}_length" if kind == "loop" else "iterator_length": length},
        "inputs": inputs,
        "inputs_truncated": False,
    }
    return {"event": f"{kind}_started", **run.workflow_fields(), "data": data}


def container_next(run: Run, kind: str, node: Node, execution_id: str, index: int) -> Event:
    """``iteration_next`` or ``loop_next``: round ``index`` (from 0) begins."""
    data = {**_container_base(node, execution_id), "index": index, "created_at": int(time.time()), "extras": {}}
    if kind == "iteration":
        data["pre_iteration_output"] = None
    else:
        data["pre_loop_output"] = None
    return {"event": f"{kind}_next", **run.workflow_fields(), "data": data}


def container_completed(
    run: Run,
    kind: str,
    node: Node,
    execution_id: str,
    *,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    steps: int,
    elapsed_time: float,
) -> Event:
    """``iteration_completed`` or ``loop_completed``."""
    data = {
        **_container_base(node, execution_id),
        "outputs": outputs,
        "outputs_truncated": False,
        "created_at": int(time.time()),
        "extras": {},
        "inputs": inputs,
        "inputs_truncated": False,
        "status": "succeeded",
        "error": None,
        "elapsed_time": round(elapsed_time, 4),
        "total_tokens": 0,
        "execution_metadata": {},
        "finished_at": int(time.time()),
        "steps": steps,
    }
    return {"event": f"{kind}_completed", **run.workflow_fields(), "data": data}


def agent_log(
    run: Run, node: Node, node_execution_id: str, label: str, data_: dict[str, Any], *, status: str = "success"
) -> Event:
    """One step of an agent node's reasoning (agent strategy plugins log them as they go)."""
    data = {
        "node_execution_id": node_execution_id,
        "id": new_id(),
        "label": label,
        "parent_id": None,
        "error": None,
        "status": status,
        "data": data_,
        "metadata": {},
        "node_id": node.node_id,
    }
    return {"event": "agent_log", **run.around(), "task_id": run.task_id, "data": data}


def workflow_run_data(
    run: Run,
    *,
    status: str,
    outputs: dict[str, Any] | None,
    error_: str | None,
    total_tokens: int,
    total_steps: int,
    exceptions_count: int = 0,
) -> Event:
    """``data`` of ``workflow_finished``, also the ``data`` of a blocking workflow result.

    ``status`` is succeeded, failed, stopped or partial-succeeded; ``created_by`` names the end user the run
    belonged to: for a plugin's call, the app's own end user, whose session id is the default end user's id.
    """
    return {
        "id": run.workflow_run_id,
        "workflow_id": run.workflow_id,
        "status": status,
        "outputs": outputs,
        "error": error_,
        "elapsed_time": run.elapsed,
        "total_tokens": total_tokens,
        "total_steps": total_steps,
        "created_by": {"id": app_end_user(run.app_id), "user": DEFAULT_END_USER_ID},
        "created_at": run.created_at,
        "finished_at": int(time.time()),
        "exceptions_count": exceptions_count,
        "files": files_in(outputs),
    }


def workflow_finished(run: Run, data: Event) -> Event:
    return {"event": "workflow_finished", **run.workflow_fields(), "data": data}


# -- human input (Dify 1.14.2 and newer) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """A human-input node's form, as its events describe it."""

    node: Node
    form_id: str
    content: str
    actions: tuple[tuple[str, str], ...] = (("approve", "Approve"), ("reject", "Reject"))
    """(action id, button text) pairs."""
    expiration_time: int = field(default_factory=lambda: int(time.time()) + 24 * 3600)


def human_input_required(run: Run, form: Form, form_token: str | None) -> Event:
    """The run stops at a human-input node and waits; ``form_token`` is null unless the form is delivered to a
    web app (an email form cannot be driven through the API)."""
    data = {
        "form_id": form.form_id,
        "node_id": form.node.node_id,
        "node_title": form.node.title,
        "form_content": form.content,
        "inputs": [],
        "actions": [{"id": action, "title": title, "button_style": "default"} for action, title in form.actions],
        "form_token": form_token,
        "resolved_default_values": {},
        "display_in_ui": True,
        "expiration_time": form.expiration_time,
        "approval_channels": ["console"],
    }
    return {"event": "human_input_required", **run.workflow_fields(), "data": data}


def workflow_paused(run: Run, form: Form, reason: Event, outputs: dict[str, Any] | None = None) -> Event:
    """The last event of a paused run: no ``workflow_finished`` and no ``message_end`` follow."""
    data = {
        "workflow_run_id": run.workflow_run_id,
        "paused_nodes": [form.node.node_id],
        "outputs": outputs or {},
        "reasons": [reason],
    }
    return {"event": "workflow_paused", **run.workflow_fields(), "data": data}


def human_input_form_filled(run: Run, form: Form, action: str, submitted: dict[str, Any]) -> Event:
    """The form was answered (seen when a resumed run streams again): which button, and the rendered form."""
    data = {
        "node_id": form.node.node_id,
        "node_title": form.node.title,
        "rendered_content": form.content,
        "action_id": action,
        "action_text": dict(form.actions).get(action, action),
        "submitted_data": submitted,
    }
    return {"event": "human_input_form_filled", **run.workflow_fields(), "data": data}


def human_input_form_timeout(run: Run, form: Form) -> Event:
    """Nobody answered the form in time; the run follows the node's timeout branch."""
    data = {"node_id": form.node.node_id, "node_title": form.node.title, "expiration_time": form.expiration_time}
    return {"event": "human_input_form_timeout", **run.workflow_fields(), "data": data}


# -- blocking results ----------------------------------------------------------------------------------------------


def chat_blocking_result(run: Run, answer: str, usage_: Event) -> Event:
    """The single dict a blocking chat or completion call returns (no ``conversation_id`` for completion)."""
    result: Event = {"event": "message", "task_id": run.task_id, "id": run.message_id, "message_id": run.message_id}
    if run.conversation_id is not None:
        result["conversation_id"] = run.conversation_id
    metadata: Event = {"annotation_reply": None, "retriever_resources": [], "usage": usage_}
    if not run.easy_ui:
        metadata["reasoning"] = {}
    result.update(mode=run.mode, answer=answer, metadata=metadata, created_at=run.created_at)
    return result


def workflow_blocking_result(run: Run, data: Event) -> Event:
    """The single dict a blocking workflow call returns."""
    keys = ("id", "workflow_id", "status", "outputs", "error", "elapsed_time", "total_tokens", "total_steps")
    trimmed = {key: data[key] for key in keys}
    trimmed.update(created_at=data["created_at"], finished_at=data["finished_at"])
    return {"task_id": run.task_id, "workflow_run_id": run.workflow_run_id, "data": trimmed}
