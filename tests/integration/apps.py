"""Scripted Dify apps for the subprocess tests: predictable events, and every failure Dify can produce."""

import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from devkit.daemon.process import DifyError
from devkit.demo.apps import DemoApps

CHAT_APP = "11111111-1111-4111-8111-111111111111"
WORKFLOW_APP = "22222222-2222-4222-8222-222222222222"
COMPLETION_APP = "33333333-3333-4333-8333-333333333333"
BIG_APP = "44444444-4444-4444-8444-444444444444"
FAILING_APP = "55555555-5555-4555-8555-555555555555"
GATED_APP = "66666666-6666-4666-8666-666666666666"
UNKNOWN_APP = "77777777-7777-4777-8777-777777777777"
SCRIPTED_APP = "88888888-8888-4888-8888-888888888888"
"""Plays whatever ``ScriptedApps.script`` holds: the events a test wants Dify to send, hostile ones included."""
HUGE_APP = "99999999-9999-4999-8999-999999999999"
"""Everything about it is huge: its opening statement, its error message."""

UNREACHABLE_APP = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
"""Its calls fail in the network between the daemon and Dify, with Go's words (which name internal hosts)."""
GO_TRANSPORT_ERROR = (
    'Post "http://api:5001/inner/api/invoke/app": dial tcp 172.18.0.5:5001: connect: connection refused'
)

TICKING_APP = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
"""Answers one word every 20 ms for ten seconds: long enough to walk away from."""

HUGE_TEXT_BYTES = 3 * 1024 * 1024

BIG_ANSWER_BYTES = 4 * 1024 * 1024
DIFY_ERROR_EVENT = {
    "event": "error",
    "task_id": "task-1",
    "message_id": "msg-1",
    "status": 400,
    "code": "provider_quota_exceeded",
    "message": "Your quota for this model is used up.",
}
CHAT_PARAMETERS = {
    "opening_statement": "Hello from the scripted chat app.",
    "suggested_questions": ["What is new?"],
    "user_input_form": [{"text-input": {"label": "Name", "variable": "name", "required": False}}],
}


def chat_events(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Three answer deltas that repeat what the app received, then the end with usage."""
    conversation = request.get("conversation_id") or "conv-1"
    common = {"conversation_id": conversation, "message_id": "msg-1", "task_id": "task-1", "created_at": 1}
    words = ["You said ", str(request.get("query")), f" with {sorted((request.get('inputs') or {}).items())}"]
    events = [{"event": "message", "answer": word, **common} for word in words]
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, "latency": 0.1}
    events.append({"event": "message_end", "metadata": {"usage": usage}, **common})
    return events


def workflow_events(request: dict[str, Any]) -> list[dict[str, Any]]:
    run = {"workflow_run_id": "run-1", "task_id": "task-2"}
    outputs = {"echo": dict(request.get("inputs") or {})}
    return [
        {"event": "workflow_started", "data": {"id": "run-1", "workflow_id": "wf"}, **run},
        {
            "event": "node_started",
            "data": {"id": "n1", "node_id": "start", "node_type": "start", "title": "Start"},
            **run,
        },
        {
            "event": "node_finished",
            "data": {"id": "n1", "node_type": "start", "title": "Start", "status": "succeeded", "elapsed_time": 0.01},
            **run,
        },
        {"event": "text_chunk", "data": {"text": "streamed text"}, **run},
        {
            "event": "workflow_finished",
            "data": {"id": "run-1", "status": "succeeded", "outputs": outputs, "elapsed_time": 0.5, "total_tokens": 3},
            **run,
        },
    ]


def workflow_blocking(request: dict[str, Any]) -> dict[str, Any]:
    finished = workflow_events(request)[-1]
    return {"workflow_run_id": "run-1", "task_id": "task-2", "data": finished["data"]}


def completion_events(request: dict[str, Any]) -> list[dict[str, Any]]:
    common = {"message_id": "msg-3", "task_id": "task-3", "created_at": 1}
    text = f"Completed {sorted((request.get('inputs') or {}).items())}"
    return [
        {"event": "message", "answer": text[:10], **common},
        {"event": "message", "answer": text[10:], **common},
        {"event": "message_end", "metadata": {"usage": {"total_tokens": 2}}, **common},
    ]


def _joined(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The blocking result of a streamed answer: one message with the whole answer and the usage."""
    answer = "".join(event.get("answer", "") for event in events)
    return {**events[0], "answer": answer, "metadata": events[-1].get("metadata", {})}


class ScriptedApps:
    """An ``AppBackend`` with one app of each type plus apps that are big, failing or gated."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.ticks = 0
        """Words ``TICKING_APP`` has produced so far."""
        self.script: list[Any] = []
        """What ``SCRIPTED_APP`` streams next (any JSON values, as Dify could send them)."""

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        with self.lock:
            self.calls.append(request)
        app_id = request["app_id"]
        blocking = request.get("response_mode") == "blocking"
        if app_id in (CHAT_APP, FAILING_APP):
            if not request.get("query"):
                raise DifyError("missing query")  # what Dify says when a chat app gets no query
            events = chat_events(request)
            if blocking:
                return [_joined(events)]
            if app_id == FAILING_APP:
                return self._fail_after(events[:2], "model overloaded")
            if request.get("query") == "quota":
                return [events[0], DIFY_ERROR_EVENT]  # Dify reports a failure inside the run as an event
            return self._paced(events, request)
        if app_id == WORKFLOW_APP:
            return [workflow_blocking(request)] if blocking else workflow_events(request)
        if app_id == COMPLETION_APP:
            events = completion_events(request)
            return [_joined(events)] if blocking else events
        if app_id == BIG_APP:
            return [{"event": "message", "answer": "x" * BIG_ANSWER_BYTES, "conversation_id": "c", "message_id": "m"}]
        if app_id == GATED_APP:
            return self._gated(request)
        if app_id == SCRIPTED_APP:
            return list(self.script)
        if app_id == HUGE_APP:
            raise DifyError("x" * HUGE_TEXT_BYTES)
        if app_id == TICKING_APP:
            return self._ticking()
        if app_id == UNREACHABLE_APP:
            # Not Dify's answer: the daemon wraps Go's own error text in its call-site name.
            if request.get("query") == "midway":
                return self._cut_midway(request)
            raise ConnectionError(GO_TRANSPORT_ERROR)
        raise DifyError("app not found")

    def _cut_midway(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield chat_events(request)[0]
        raise ConnectionError(GO_TRANSPORT_ERROR.replace("dial tcp", "read tcp"))

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        if app_id in (CHAT_APP, WORKFLOW_APP, COMPLETION_APP):
            return CHAT_PARAMETERS
        if app_id == HUGE_APP:
            return {**CHAT_PARAMETERS, "opening_statement": "<" * HUGE_TEXT_BYTES}
        raise DifyError("app not found")

    @staticmethod
    def _paced(events: list[dict[str, Any]], request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        # A small pause between events lets concurrent streams interleave, as real answers do.
        pause = 0.01 if (request.get("user") or "").startswith("concurrent") else 0
        for event in events:
            yield event
            time.sleep(pause)

    @staticmethod
    def _fail_after(events: list[dict[str, Any]], message: str) -> Iterator[dict[str, Any]]:
        yield from events
        raise DifyError(message)

    def _ticking(self) -> Iterator[dict[str, Any]]:
        for index in range(500):
            with self.lock:
                self.ticks += 1
            yield {"event": "message", "answer": f"tick {index} ", "conversation_id": "c", "message_id": "m"}
            time.sleep(0.02)
        yield {"event": "message_end", "conversation_id": "c", "message_id": "m", "metadata": {}}

    def _gated(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Waits on ``gate`` after its first event; with the query ``late``, before it (a model that thinks
        before its first word); with ``late refusal``, then refuses as Dify refuses an unknown app."""
        query = request.get("query")
        if query in ("late", "late refusal"):
            self.gate.wait(timeout=30)
            if query == "late refusal":
                raise DifyError("app not found")
        yield {"event": "message", "answer": "first", "conversation_id": "c", "message_id": "m"}
        self.gate.wait(timeout=30)
        yield {"event": "message_end", "conversation_id": "c", "message_id": "m", "metadata": {}}


class CountingDemo(DemoApps):
    """The demo apps, counting every run the plugin starts (``runs``); completion apps run (a Dify that fixed them):
    the tests that use it are about the surfaces, not about what Dify 1.16 does to completion apps."""

    def __init__(self) -> None:
        super().__init__(token_delay=0, completion_fixed=True)
        self.runs = 0

    def invoke_app(self, request: dict[str, Any]) -> Any:
        with self._runs_lock:
            self.runs += 1
        return super().invoke_app(request)

    _runs_lock = threading.Lock()
