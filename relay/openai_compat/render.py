"""OpenAI's wire shapes: ``chat.completion`` objects, ``chat.completion.chunk`` SSE frames, error objects."""

import time
import uuid
from collections.abc import Callable
from typing import Any

from relay.core.answer import PAUSED, Answer, Delta
from relay.core.errors import RelayError
from relay.core.wire import SSE_KEEPALIVE, sse_event, sse_json

DONE = sse_event(b"[DONE]")

# Our codes to OpenAI's error types (what its SDKs and clients look at), by HTTP status.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
}
_CODES = {"app_not_found": "model_not_found", "unauthorized": "invalid_api_key"}
_PARAMS = {"message": "messages"}
"""The core's neutral names of request fields, where this surface's request calls them otherwise."""


def error_object(message: str, status: int, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": _CODES.get(code or "", code),
        }
    }


def error_of(error: RelayError) -> dict[str, Any]:
    param = _PARAMS.get(error.request_field or "", error.request_field)
    return error_object(error.message, error.status, error.code, param)


def completion(answer: Answer, model: str) -> dict[str, Any]:
    """The whole answer as one ``chat.completion``; ``conversation_id`` is the relay's addition."""
    text = "\n\n".join(filter(None, (answer.text, PAUSED if answer.paused else "")))
    message: dict[str, Any] = {"role": "assistant", "content": text}
    reasoning = "".join(answer.reasoning)
    if reasoning:
        message["reasoning_content"] = reasoning
    document: dict[str, Any] = {
        "id": f"chatcmpl-{answer.answer_id or uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": answer.usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    if answer.conversation_id:
        document["conversation_id"] = answer.conversation_id
    return document


class ChunkEncoder:
    """Dify's events as ``chat.completion.chunk`` frames (an encoder for ``relay.core.stream``).

    The first chunk (``role``) waits for the app's first event: it takes its id from it (the message's id, as a
    non-streaming answer does) and its conversation id, and every later chunk keeps both, as OpenAI's chunks of
    one completion share one id. An app that stays silent meanwhile gets keep-alive comments, which clients skip.
    After an error frame nothing more is written but ``[DONE]``.
    """

    def __init__(
        self, answer: Answer, model: str, *, include_usage: bool, on_finished: Callable[[Answer], None]
    ) -> None:
        self.answer = answer
        self.model = model
        self.include_usage = include_usage
        self.on_finished = on_finished
        self.created = int(time.time())
        self.opened = False
        self.failed = False

    def start(self) -> bytes:
        return b""  # the role chunk goes out with the first event, which gives the completion its id

    def event(self, event: Any) -> bytes:
        if self.failed:
            return b""
        delta = self.answer.read(event)
        frames = self._opening() + self._delta(delta)
        if self.answer.error is not None:
            return frames + self._error(self.answer.error)
        return frames

    def keepalive(self) -> bytes:
        return SSE_KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        if self.failed:
            return b""
        self.answer.error = {"message": str(error.get("message")), "code": error.get("code")}
        return self._error(self.answer.error)

    def end(self) -> bytes:
        answer = self.answer
        if answer.error is not None:
            return DONE
        tail = self._opening()
        tail += self._delta(answer.finish()) if not answer.finished else b""
        if answer.paused:  # the answer so far is all there is: the run waits for a person in Dify
            tail += self._delta(Delta(content=f"\n\n{PAUSED}"))
        tail += self._frame({}, finish_reason="stop")
        if self.include_usage:
            usage = answer.usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            tail += sse_json({**self._head(), "choices": [], "usage": usage})
        self.on_finished(answer)
        return tail + DONE

    def _opening(self) -> bytes:
        """The role chunk, once: the completion's id is fixed here, from the events read so far or made up."""
        if self.opened:
            return b""
        self.opened = True
        if self.answer.answer_id is None:
            self.answer.answer_id = uuid.uuid4().hex
        return self._frame({"role": "assistant", "content": ""})

    def _delta(self, delta: Delta) -> bytes:
        fields: dict[str, Any] = {}
        if delta.content:
            fields["content"] = delta.content
        if delta.reasoning:
            fields["reasoning_content"] = delta.reasoning
        return self._frame(fields) if fields else b""

    def _head(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "id": f"chatcmpl-{self.answer.answer_id}",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        if self.answer.conversation_id:
            head["conversation_id"] = self.answer.conversation_id
        return head

    def _frame(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return sse_json({**self._head(), "choices": [choice]})

    def _error(self, error: dict[str, Any]) -> bytes:
        # After the first chunk a status can no longer say it: OpenAI's clients raise on a frame with "error".
        self.failed = True
        return sse_json(error_object(error["message"], 502, str(error.get("code") or "invocation_failed")))
