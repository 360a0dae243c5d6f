"""Builders for the dicts Dify's Service API streams back, so demo apps look like real ones to the relay.

Each builder returns one event as Dify shapes it (field names, nesting, types: ``created_at`` in whole seconds,
``elapsed_time`` in float seconds, prices as decimal strings). The demo apps decide *what* to say; this module
only knows *how Dify writes it down*. Shapes follow Dify's ``core/app/entities/task_entities.py`` stream
responses and the Service API documentation.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Event = dict[str, Any]

_PROMPT_UNIT_PRICE = Decimal("0.001")
_COMPLETION_UNIT_PRICE = Decimal("0.002")
_PRICE_UNIT = Decimal("0.001")  # prices are per 1000 tokens
_PRICE_PLACES = Decimal("0.0000001")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Run:
    """The ids and clock of one app run; every event of the run carries some of them."""

    conversation_id: str | None = None
    """Set for chat-type apps (chatbot, agent, chatflow); completion and workflow events have none."""
    workflow_id: str | None = None
    """Set for workflow-based apps (workflow, chatflow)."""
    task_id: str = field(default_factory=new_id)
    message_id: str = field(default_factory=new_id)
    workflow_run_id: str = field(default_factory=new_id)
    created_at: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 4)

    def message_fields(self) -> Event:
        """What Dify adds to every event of a chat or completion app (and of a chatflow)."""
        fields: Event = {"task_id": self.task_id, "id": self.message_id, "message_id": self.message_id}
        if self.conversation_id is not None:
            fields["conversation_id"] = self.conversation_id
        fields["created_at"] = self.created_at
        return fields

    def workflow_fields(self) -> Event:
        fields: Event = {"task_id": self.task_id, "workflow_run_id": self.workflow_run_id}
        if self.conversation_id is not None:  # a chatflow's workflow events also carry the message ids
            fields.update(conversation_id=self.conversation_id, message_id=self.message_id, created_at=self.created_at)
        return fields


@dataclass(frozen=True)
class Node:
    """One node of a demo workflow graph."""

    node_id: str
    node_type: str
    title: str


def usage(prompt_tokens: int, completion_tokens: int, latency: float) -> Event:
    """``metadata.usage`` of ``message_end`` (Dify's ``LLMUsage``)."""
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
    }


def message(run: Run, answer: str) -> Event:
    return {"event": "message", **run.message_fields(), "answer": answer, "from_variable_selector": None}


def agent_message(run: Run, answer: str) -> Event:
    return {"event": "agent_message", **run.message_fields(), "answer": answer}


def agent_thought(
    run: Run,
    thought_id: str,
    position: int,
    *,
    thought: str = "",
    tool: str = "",
    tool_input: str = "",
    observation: str = "",
) -> Event:
    """An agent step; Dify announces each step empty first, then sends it again filled in."""
    fields = run.message_fields()
    return {
        "event": "agent_thought",
        "id": thought_id,
        "task_id": run.task_id,
        "message_id": run.message_id,
        "position": position,
        "thought": thought,
        "observation": observation,
        "tool": tool,
        "tool_labels": {tool: {"en_US": tool.replace("_", " ").title()}} if tool else {},
        "tool_input": tool_input,
        "message_files": [],
        "conversation_id": fields.get("conversation_id"),
        "created_at": run.created_at,
    }


def message_end(run: Run, usage_: Event) -> Event:
    return {
        "event": "message_end",
        **run.message_fields(),
        "metadata": {"usage": usage_, "retriever_resources": []},
        "files": [],
    }


def error(run: Run, message_: str, *, code: str = "completion_request_error", status: int = 400) -> Event:
    """An error Dify reports inside the stream (a model or run failure), after which the stream ends."""
    return {"event": "error", **run.message_fields(), "status": status, "code": code, "message": message_}


def workflow_started(run: Run, inputs: dict[str, Any]) -> Event:
    data = {"id": run.workflow_run_id, "workflow_id": run.workflow_id, "inputs": inputs, "created_at": run.created_at}
    return {"event": "workflow_started", **run.workflow_fields(), "data": data}


def _node_execution(node: Node, index: int, node_execution_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The fields Dify repeats in both events of one node execution."""
    return {
        "id": node_execution_id,
        "node_id": node.node_id,
        "node_type": node.node_type,
        "title": node.title,
        "index": index,
        "predecessor_node_id": None,
        "inputs": inputs,
    }


def node_started(run: Run, node: Node, index: int, node_execution_id: str, inputs: dict[str, Any]) -> Event:
    data = {**_node_execution(node, index, node_execution_id, inputs), "created_at": int(time.time()), "extras": {}}
    return {"event": "node_started", **run.workflow_fields(), "data": data}


def node_finished(
    run: Run,
    node: Node,
    index: int,
    node_execution_id: str,
    *,
    inputs: dict[str, Any],
    outputs: dict[str, Any] | None,
    elapsed_time: float,
    status: str = "succeeded",
    error_: str | None = None,
    total_tokens: int = 0,
) -> Event:
    now = int(time.time())
    data = {
        **_node_execution(node, index, node_execution_id, inputs),
        "process_data": None,
        "outputs": outputs,
        "status": status,
        "error": error_,
        "elapsed_time": round(elapsed_time, 4),
        "execution_metadata": {"total_tokens": total_tokens} if total_tokens else {},
        "created_at": now,
        "finished_at": now,
        "files": [],
    }
    return {"event": "node_finished", **run.workflow_fields(), "data": data}


def text_chunk(run: Run, text: str, selector: list[str]) -> Event:
    return {"event": "text_chunk", **run.workflow_fields(), "data": {"text": text, "from_variable_selector": selector}}


def workflow_run_data(
    run: Run, *, status: str, outputs: dict[str, Any], error_: str | None, total_tokens: int, total_steps: int
) -> Event:
    """``data`` of ``workflow_finished``, also the ``data`` of a blocking workflow result."""
    return {
        "id": run.workflow_run_id,
        "workflow_id": run.workflow_id,
        "status": status,
        "outputs": outputs,
        "error": error_,
        "elapsed_time": run.elapsed,
        "total_tokens": total_tokens,
        "total_steps": total_steps,
        "created_at": run.created_at,
        "finished_at": int(time.time()),
        "exceptions_count": 0,
        "files": [],
    }


def workflow_finished(run: Run, data: Event) -> Event:
    return {"event": "workflow_finished", **run.workflow_fields(), "data": data}


def chat_blocking_result(run: Run, mode: str, answer: str, usage_: Event) -> Event:
    """The single dict a blocking chat or completion call returns (no ``conversation_id`` for completion)."""
    fields = run.message_fields()
    result: Event = {"event": "message", "task_id": run.task_id, "id": run.message_id, "message_id": run.message_id}
    if "conversation_id" in fields:
        result["conversation_id"] = fields["conversation_id"]
    result.update(
        mode=mode, answer=answer, metadata={"usage": usage_, "retriever_resources": []}, created_at=run.created_at
    )
    return result


def workflow_blocking_result(run: Run, data: Event) -> Event:
    """The single dict a blocking workflow call returns."""
    keys = ("id", "workflow_id", "status", "outputs", "error", "elapsed_time", "total_tokens", "total_steps")
    trimmed = {key: data[key] for key in keys}
    trimmed.update(created_at=data["created_at"], finished_at=data["finished_at"])
    return {"workflow_run_id": run.workflow_run_id, "task_id": run.task_id, "data": trimmed}
