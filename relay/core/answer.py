"""Dify's events read as one answer: text deltas, reasoning, usage, outputs, the end, or the error.

For the surfaces that answer with the app's text rather than its events (the OpenAI-compatible API, MCP tools).

Chat-type and completion apps answer in ``message`` / ``agent_message`` deltas; a workflow in ``text_chunk``s, or
else in its outputs (the single string output, or all outputs as JSON). Agent thoughts and node progress are not
part of the answer and are left out.
"""

from dataclasses import dataclass, field
from typing import Any

from relay.core.apps import AppKind
from relay.core.think import ThinkSplitter
from relay.core.wire import json_text

PAUSED = "The run is paused until a person answers in Dify; it goes on there, not here."
"""What a surface tells its client when the run waits for a person (a human-input node): the answer so far is all
this call will get."""


@dataclass
class Delta:
    content: str = ""
    reasoning: str = ""

    def __bool__(self) -> bool:
        return bool(self.content or self.reasoning)


@dataclass
class Answer:
    """What the events said so far."""

    kind: AppKind
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    replaced: str | None = None
    """A ``message_replace`` (output moderation): the whole answer, instead of what streamed."""
    usage: dict[str, int] | None = None
    outputs: dict[str, Any] | None = None
    """A workflow's outputs, once it finished."""
    finished: bool = False
    paused: bool = False
    """The run stopped for a person to answer in Dify (``workflow_paused``): a plugin cannot answer for them."""
    error: dict[str, Any] | None = None
    conversation_id: str | None = None
    answer_id: str | None = None
    """The first ``message_id`` (else ``workflow_run_id``) an event carried, kept from then on: one answer, one id,
    whatever later events say. A surface that must name the answer before any event fixes it itself."""
    streamed_text: bool = False
    splitter: ThinkSplitter = field(default_factory=ThinkSplitter)

    @property
    def text(self) -> str:
        return self.replaced if self.replaced is not None else "".join(self.content)

    def read(self, event: Any) -> Delta:
        """The part of the answer that ``event`` adds."""
        if not isinstance(event, dict):
            return Delta()
        if self.conversation_id is None and isinstance(event.get("conversation_id"), str) and event["conversation_id"]:
            self.conversation_id = event["conversation_id"]  # one answer, one conversation: the first id holds
        if self.answer_id is None:
            ids = (event[key] for key in ("message_id", "workflow_run_id") if isinstance(event.get(key), str))
            self.answer_id = next((value for value in ids if value), None)
        name = event.get("event")
        if name is None and isinstance(event.get("data"), dict) and "outputs" in event["data"]:
            name = "workflow_finished"  # a blocking workflow result
        if name in ("message", "agent_message") and isinstance(event.get("answer"), str):
            delta = self._text(event["answer"])
            if event.get("metadata"):  # a blocking result carries its usage
                self._usage(event["metadata"])
                self.finish()
            return delta
        if name == "text_chunk":
            text = (event.get("data") or {}).get("text") if isinstance(event.get("data"), dict) else None
            if isinstance(text, str):
                self.streamed_text = True
                return self._text(text)
        if name == "message_replace" and isinstance(event.get("answer"), str):
            self.replaced = event["answer"]
        if name == "message_end":
            self._usage(event.get("metadata"))
            return self.finish()
        if name == "workflow_paused":
            self.paused = True
            return self.finish()
        if name == "workflow_finished" and self.kind.name == "workflow":
            return self._workflow_finished(event.get("data") if isinstance(event.get("data"), dict) else {})
        if name == "error":
            self.error = {"message": str(event.get("message") or "The app failed."), "code": event.get("code")}
        return Delta()

    def _text(self, text: str) -> Delta:
        content, reasoning = self.splitter.feed(text)
        self.content.append(content)
        self.reasoning.append(reasoning)
        return Delta(content, reasoning)

    def finish(self) -> Delta:
        self.finished = True
        content, reasoning = self.splitter.flush()
        self.content.append(content)
        self.reasoning.append(reasoning)
        return Delta(content, reasoning)

    def _usage(self, metadata: Any) -> None:
        usage = metadata.get("usage") if isinstance(metadata, dict) else None
        if isinstance(usage, dict):
            self.usage = {
                name: usage[name] if isinstance(usage.get(name), int) else 0
                for name in ("prompt_tokens", "completion_tokens", "total_tokens")
            }

    def _workflow_finished(self, data: dict[str, Any]) -> Delta:
        if isinstance(data.get("outputs"), dict):
            self.outputs = data["outputs"]
        if isinstance(data.get("total_tokens"), int):
            self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": data["total_tokens"]}
        if data.get("status") not in (None, "succeeded", "partial-succeeded"):
            self.error = {"message": str(data.get("error") or f"The workflow {data.get('status')}."), "code": None}
            return Delta()
        delta = Delta()
        if not self.streamed_text:
            delta = self._text(output_text(data.get("outputs")))
        return Delta(delta.content + self.finish().content, delta.reasoning)


def output_text(outputs: Any) -> str:
    """A workflow's answer: its one string output, or all its outputs as JSON (strict: see ``relay.core.wire``)."""
    if isinstance(outputs, dict):
        strings = [value for value in outputs.values() if isinstance(value, str)]
        if len(outputs) == 1 and len(strings) == 1:
            return strings[0]
    return json_text(outputs if outputs is not None else {})
