"""The Responses API's wire shapes: response objects, their output items, the streamed events, error objects.

One response's output is built from the app's deltas in the order they come (``Output``), the same way whether it
is streamed or returned whole: the answer is one ``message`` item of ``output_text``; reasoning the app sends
inline (``<think>``, split by the core as the Chat Completions surface splits it into ``reasoning_content``) is a
``reasoning`` item of ``reasoning_text``, closed when the answer begins. Shapes follow the ``openai`` SDK's types
(``openai.types.responses``); fields a Dify app has no use for (tools, sampling) say what applied: none. Two values
go past the SDK's enumerations, because they say what happened and its clients read them as plain strings: a failed
response's ``error.code`` is Dify's own (``completion_request_error``...), and a run paused for a person is
``incomplete`` for the reason ``paused``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relay.core.answer import PAUSED, Answer, Delta
from relay.core.errors import RelayError, shown
from relay.core.wire import SSE_KEEPALIVE, sse_json
from relay.openai_compat.render import error_object

_PARAMS = {"message": "input"}
"""The core's neutral names of request fields, where this surface's request calls them otherwise."""
PAUSED_REASON = "paused"
"""``incomplete_details.reason`` of a run that waits for a person in Dify (a human-input node)."""
NO_EVENTS = {"message": "The app returned no events.", "code": "invocation_failed"}


def error_of(error: RelayError) -> dict[str, Any]:
    """OpenAI's error object (``message``, ``type``, ``param``, ``code``), as the Chat Completions surface writes it."""
    return error_object(
        error.message, error.status, error.code, _PARAMS.get(error.request_field or "", error.request_field)
    )


def lost_conversation(previous_response_id: str) -> str:
    """What a client is told when the Dify conversation of its ``previous_response_id`` is gone."""
    return (
        f"The Dify conversation of the previous response {shown(previous_response_id)} no longer exists (deleted "
        "in Dify, or the app no longer accepts it): start a new one without previous_response_id."
    )


@dataclass(frozen=True)
class Head:
    """What every rendering of one response carries, whatever its state."""

    model: str
    """The model as the request named it (an app's name, or its id)."""
    previous_response_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: int = 0


@dataclass
class Item:
    """One output item: the answer (``message``) or a stretch of reasoning (``reasoning``)."""

    kind: str
    item_id: str
    index: int
    parts: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def shape(self, status: str | None = None) -> dict[str, Any]:
        """The item as ``output`` lists it (``status``: its own, default done or in progress)."""
        status = status or ("completed" if self.done else "in_progress")
        if self.kind == "message":
            return {
                "id": self.item_id,
                "type": "message",
                "role": "assistant",
                "status": status,
                "content": [self.part()],
            }
        return {"id": self.item_id, "type": "reasoning", "summary": [], "content": [self.part()], "status": status}

    def opening(self) -> dict[str, Any]:
        """The item as ``response.output_item.added`` announces it: no content yet."""
        return {**self.shape("in_progress"), "content": []}

    def part(self, text: str | None = None) -> dict[str, Any]:
        text = self.text if text is None else text
        if self.kind == "message":
            return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        return {"type": "reasoning_text", "text": text}


Step = tuple[str, Item, str]
"""``("added", item, "")``, ``("delta", item, text)`` or ``("done", item, "")``: what the output did, for a stream."""


class Output:
    """A response's output items, built from the answer's deltas: one message, reasoning items before (or, rarely,
    between) its parts."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.items: list[Item] = []
        self.message: Item | None = None
        self.thinking: Item | None = None
        """The reasoning item still open."""

    def add(self, delta: Delta) -> list[Step]:
        steps: list[Step] = []
        if delta.reasoning:  # a delta with both began with its reasoning: "<think>…</think>answer"
            if self.thinking is None:
                count = sum(1 for item in self.items if item.kind == "reasoning")
                self.thinking = self._open("reasoning", f"rs_{self.suffix}" + (f"_{count}" if count else ""), steps)
            self.thinking.parts.append(delta.reasoning)
            steps.append(("delta", self.thinking, delta.reasoning))
        if delta.content:
            self._close_thinking(steps)
            if self.message is None:
                self.message = self._open("message", f"msg_{self.suffix}", steps)
            self.message.parts.append(delta.content)
            steps.append(("delta", self.message, delta.content))
        return steps

    def close(self, *, replaced: str | None = None) -> list[Step]:
        """Close every item, a message first opened if there is none (a response always answers something);
        ``replaced``: the message's final text (Dify's output moderation rewrote what streamed)."""
        steps: list[Step] = []
        self._close_thinking(steps)
        if self.message is None:
            self.message = self._open("message", f"msg_{self.suffix}", steps)
        if replaced is not None:
            self.message.parts = [replaced]
        if not self.message.done:
            self.message.done = True
            steps.append(("done", self.message, ""))
        return steps

    def shapes(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every item, as the response lists them (``status``: for the items still open)."""
        return [item.shape(None if item.done else status) for item in self.items]

    @property
    def text(self) -> str:
        return self.message.text if self.message is not None else ""

    def _open(self, kind: str, item_id: str, steps: list[Step]) -> Item:
        item = Item(kind, item_id, len(self.items))
        self.items.append(item)
        steps.append(("added", item, ""))
        return item

    def _close_thinking(self, steps: list[Step]) -> None:
        if self.thinking is not None:
            self.thinking.done = True
            steps.append(("done", self.thinking, ""))
            self.thinking = None


def paused_note(output: Output) -> Delta:
    """What a paused run's answer ends with: the answer so far is all this call gets."""
    return Delta(content=f"\n\n{PAUSED}" if output.text else PAUSED)


def usage_of(answer: Answer) -> dict[str, Any]:
    usage = answer.usage or {}
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.get("total_tokens", 0) or prompt + completion,
    }


def response_object(
    response_id: str,
    head: Head,
    status: str,
    output: list[dict[str, Any]],
    *,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``response`` object. ``tools`` is empty and ``tool_choice`` ``none``: a Dify app calls its own tools and
    never one of the client's."""
    ended = status in ("completed", "incomplete", "failed")
    return {
        "id": response_id,
        "object": "response",
        "created_at": head.created_at,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "background": False,
        "model": head.model,
        "output": output,
        "error": error,
        "incomplete_details": {"reason": PAUSED_REASON} if status == "incomplete" else None,
        "instructions": None,
        "metadata": head.metadata,
        "previous_response_id": head.previous_response_id,
        "parallel_tool_calls": False,
        "tool_choice": "none",
        "tools": [],
        "temperature": None,
        "top_p": None,
        "max_output_tokens": None,
        "reasoning": None,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "usage": usage if ended else None,
        "user": None,
    }


def failure_of(error: dict[str, Any]) -> dict[str, Any]:
    """A response's ``error``: Dify's code (else ``server_error``) and message."""
    code = error.get("code")
    return {"code": code if isinstance(code, str) and code else "server_error", "message": str(error.get("message"))}


def whole(response_id: str, head: Head, answer: Answer, output: Output) -> dict[str, Any]:
    """The response of an answer read to its end (without error: a failed one is an error status instead)."""
    if not answer.finished:
        output.add(answer.finish())
    if answer.paused:
        output.add(paused_note(output))
    output.close(replaced=_replaced(answer))
    status = "incomplete" if answer.paused else "completed"
    return response_object(response_id, head, status, output.shapes(), usage=usage_of(answer))


def _replaced(answer: Answer) -> str | None:
    if answer.replaced is None:
        return None
    return answer.replaced + (f"\n\n{PAUSED}" if answer.paused else "")


class EventEncoder:
    """Dify's events as the Responses API's stream (an encoder for ``relay.core.stream``).

    ``response.created`` waits for the app's first event: the response's id is made then (``make_id``), and it
    carries the Dify conversation that event names. An app that stays silent meanwhile gets keep-alive comments,
    which SSE clients skip. Every event has the next ``sequence_number``. The stream ends with
    ``response.completed``, ``response.incomplete`` (a run paused for a person) or ``response.failed`` (its
    ``error`` says what failed); ``on_finished`` then gets the last response object.
    """

    def __init__(
        self,
        answer: Answer,
        head: Head,
        output: Output,
        *,
        make_id: Callable[[Answer], str],
        on_finished: Callable[[dict[str, Any], Answer], None],
        describe: Callable[[dict[str, Any]], dict[str, Any]] = lambda error: error,
    ) -> None:
        self.answer = answer
        self.head = head
        self.output = output
        self.make_id = make_id
        self.on_finished = on_finished
        self.describe = describe
        """Rewrites an in-stream error for this surface's client (a lost conversation, said in its terms)."""
        self.response_id = ""
        self.sequence = 0
        self.read_any = False
        self.ended = False

    def start(self) -> bytes:
        return b""  # response.created waits for the first event, which names the conversation in the id

    def event(self, event: Any) -> bytes:
        if self.ended:
            return b""
        self.read_any = True
        delta = self.answer.read(event)
        frames = self._opening() + self._steps(self.output.add(delta))
        if self.answer.error is not None:
            return frames + self._fail(self.answer.error)
        return frames

    def keepalive(self) -> bytes:
        return SSE_KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        if self.ended:
            return b""
        self.answer.error = {"message": str(error.get("message")), "code": error.get("code")}
        return self._opening() + self._fail(self.answer.error)

    def end(self) -> bytes:
        if self.ended:
            return b""
        answer = self.answer
        if not self.read_any:
            return self.failure(NO_EVENTS)
        frames = self._opening()
        if not answer.finished:
            frames += self._steps(self.output.add(answer.finish()))
        if answer.paused:
            frames += self._steps(self.output.add(paused_note(self.output)))
        frames += self._steps(self.output.close(replaced=_replaced(answer)))
        status = "incomplete" if answer.paused else "completed"
        document = response_object(self.response_id, self.head, status, self.output.shapes(), usage=usage_of(answer))
        frames += self._event(f"response.{status}", response=document)
        self.ended = True
        self.on_finished(document, answer)
        return frames

    def _opening(self) -> bytes:
        """``response.created`` and ``response.in_progress``, once: the id is made here, from the events so far."""
        if self.response_id:
            return b""
        self.response_id = self.make_id(self.answer)
        snapshot = response_object(self.response_id, self.head, "in_progress", [])
        return self._event("response.created", response=snapshot) + self._event(
            "response.in_progress", response=snapshot
        )

    def _fail(self, error: dict[str, Any]) -> bytes:
        # After the first byte a status can no longer say it: the response fails, and says why in its error.
        self.ended = True
        failure = failure_of(self.describe(error))
        document = response_object(
            self.response_id,
            self.head,
            "failed",
            self.output.shapes("incomplete"),
            usage=usage_of(self.answer),
            error=failure,
        )
        frames = self._event("response.failed", response=document)
        self.on_finished(document, self.answer)
        return frames

    def _steps(self, steps: list[Step]) -> bytes:
        return b"".join(self._step(kind, item, text) for kind, item, text in steps)

    def _step(self, kind: str, item: Item, text: str) -> bytes:
        where = {"item_id": item.item_id, "output_index": item.index, "content_index": 0}
        text_event = "response.output_text" if item.kind == "message" else "response.reasoning_text"
        if kind == "added":
            return self._event(
                "response.output_item.added", output_index=item.index, item=item.opening()
            ) + self._event("response.content_part.added", **where, part=item.part(""))
        if kind == "delta":
            extra = {"logprobs": []} if item.kind == "message" else {}
            return self._event(f"{text_event}.delta", **where, delta=text, **extra)
        extra = {"logprobs": []} if item.kind == "message" else {}
        return (
            self._event(f"{text_event}.done", **where, text=item.text, **extra)
            + self._event("response.content_part.done", **where, part=item.part())
            + self._event("response.output_item.done", output_index=item.index, item=item.shape())
        )

    def _event(self, kind: str, **fields: Any) -> bytes:
        frame = sse_json({"type": kind, **fields, "sequence_number": self.sequence}, event=kind)
        self.sequence += 1
        return frame
