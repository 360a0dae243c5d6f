"""The bench's side of the wire: a scripted chat app, and a driver that answers app calls as fast as a pipe takes.

The app is scripted by the query the plugin passes on: ``"<count>"`` is an answer of ``count`` deltas sent as
fast as possible, ``"<count>@<seconds>"`` the same with a pause between deltas (a model that is thinking). Each
answer is Dify's chat stream: ``message`` events with one token in ``answer``, then ``message_end``; in blocking
mode, the one document Dify returns.

Every event is built and encoded, as the daemon would relay it, before any measure starts, and
``BenchProcess`` writes the encoded lines to the plugin's stdin in large slices: the plugin process, not this
one, must be what limits a burst. This process's own CPU is measured too, so a reader can check.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from devkit.daemon.process import PluginProcess, as_relayed

CONVERSATION_ID = "7c2a4e1b-93d5-4f60-8a1e-2b4c6d8e0f13"
MESSAGE_ID = "e4b8a2c6-1d3f-4a5b-9c7e-0f2d4b6a8c19"
TASK_ID = "5a9c1e3b-7d2f-4b8a-a6c4-e0f2b4d6a8c1"
CREATED_AT = 1767225600

# Tokens as a model writes them: words with their leading space, punctuation, some markup the html page must
# escape, and some text beyond ASCII.
TOKENS = (
    " The", " relay", " streams", " every", " token", " as", " it", " comes", ",", " and", " the", " page",
    " grows", " with", " it", ".", " Use", " `<b>`", " &", " `<i>`", " for", " emphasis", ":", " café",
    " naïve", " 東京", " 😀", "\n\n", "-", " done",
)  # fmt: skip

SEND_SLICE = 1024 * 1024
"""Bytes written to the plugin's stdin per call: one write(2) that needs no GIL while the plugin reads it, and
other sessions' messages can still pass between two slices."""


@dataclass(frozen=True)
class Script:
    count: int
    interval: float = 0.0

    @classmethod
    def parse(cls, query: str) -> Script:
        count, _, interval = query.partition("@")
        return cls(int(count), float(interval or 0))

    @property
    def query(self) -> str:
        return f"{self.count}@{self.interval:g}" if self.interval else str(self.count)


def chat_events(count: int) -> list[dict[str, Any]]:
    """A chat answer of ``count`` deltas and its ``message_end``, as Dify streams it."""
    common = {"conversation_id": CONVERSATION_ID, "message_id": MESSAGE_ID, "task_id": TASK_ID}
    events: list[dict[str, Any]] = [
        {"event": "message", "answer": TOKENS[index % len(TOKENS)], **common, "created_at": CREATED_AT}
        for index in range(count)
    ]
    events.append(
        {
            "event": "message_end",
            **common,
            "id": MESSAGE_ID,
            "metadata": {"usage": _usage(count)},
            "created_at": CREATED_AT,
        }
    )
    return events


def blocking_answer(count: int) -> dict[str, Any]:
    """The same answer as Dify returns it in blocking mode: one document."""
    return {
        "event": "message",
        "task_id": TASK_ID,
        "id": MESSAGE_ID,
        "message_id": MESSAGE_ID,
        "conversation_id": CONVERSATION_ID,
        "mode": "chat",
        "answer": "".join(TOKENS[index % len(TOKENS)] for index in range(count)),
        "metadata": {"usage": _usage(count)},
        "created_at": CREATED_AT,
    }


def _usage(count: int) -> dict[str, Any]:
    return {"prompt_tokens": 12, "completion_tokens": count, "total_tokens": count + 12, "latency": 1.25}


def encode(event: dict[str, Any]) -> bytes:
    """An event as the daemon writes it into a ``backwards_response`` line (sorted keys, Go's numbers)."""
    return json.dumps(as_relayed(event), ensure_ascii=False, separators=(",", ":")).encode()


class ScriptedApps:
    """The ``AppBackend``: answers every chat call from its script; encoded answers are cached per script."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        script = Script.parse(str(request.get("query") or "0"))
        if request.get("response_mode") == "blocking":
            time.sleep(script.interval * script.count)
            return [blocking_answer(script.count)]
        return self._paced(chat_events(script.count), script.interval)

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return {"opening_statement": "", "user_input_form": []}

    def encoded(self, request: dict[str, Any]) -> tuple[Script, list[bytes]]:
        """The script of an app call and its events, encoded (one document in blocking mode)."""
        script = Script.parse(str(request.get("query") or "0"))
        blocking = request.get("response_mode") == "blocking"
        with self._lock:
            return script, _encoded(script.count, blocking)

    def prepare(self, *counts: int) -> None:
        """Build and encode the answers of these lengths now, outside any measure."""
        for count in counts:
            _encoded(count, False)
            _encoded(count, True)

    @staticmethod
    def _paced(events: list[dict[str, Any]], interval: float) -> Iterable[dict[str, Any]]:
        for index, event in enumerate(events):
            if index and interval:
                time.sleep(interval)
            yield event


@cache
def _encoded(count: int, blocking: bool) -> list[bytes]:
    if blocking:
        return [encode(blocking_answer(count))]
    return [encode(event) for event in chat_events(count)]


class BenchProcess(PluginProcess):
    """``PluginProcess`` whose app calls are answered from pre-encoded lines, written in large slices.

    Every other part of the protocol (requests, the plugin's messages, ``end`` of each app call) is the devkit's
    own. Each event is still one ``backwards_response`` line, byte for byte what ``PluginProcess`` would send.
    """

    apps: ScriptedApps

    def _stream_app(self, session_id: str, request_id: str, request: dict[str, Any]) -> None:
        script, lines = self.apps.encoded(request)
        head = json.dumps(
            self._envelope(session_id, "backwards_response", None), ensure_ascii=False, separators=(",", ":")
        ).encode()
        assert head.endswith(b'"data":null}')
        body = {"backwards_request_id": request_id, "event": "response", "message": "stream", "data": None}
        inner = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        assert inner.endswith(b'"data":null}')
        prefix = head[: -len(b"null}")] + inner[: -len(b"null}")]
        suffix = b"}}\n"
        if script.interval and request.get("response_mode") == "blocking":
            time.sleep(script.interval * script.count)  # Dify answers a blocking call once the run is over
        elif script.interval:
            for index, line in enumerate(lines):
                if index:
                    time.sleep(script.interval)
                self._write(prefix + line + suffix)
            return
        self._write(b"".join([prefix + line + suffix for line in lines]))

    def _write(self, data: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        view = memoryview(data)
        for start in range(0, len(data), SEND_SLICE):
            with self._write_lock:
                try:
                    proc.stdin.write(view[start : start + SEND_SLICE])
                    proc.stdin.flush()
                except (OSError, ValueError):
                    return  # the plugin died: its open requests are failed by the stdout reader
