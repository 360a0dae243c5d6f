"""The same fuzzing through the real plugin process (``python -m main`` over the daemon's stdio protocol).

Fewer examples than in-process, but these catch what only the SDK can do to the plugin: its HTTP parser, its
framing of every message as one stdout line, its threads. Properties, besides the in-process ones: the process
never dies, no session error (with its traceback) ever reaches the daemon, no stdout line passes 1 MiB, no app
is run for a request the relay refuses, and a stream opened before the first example and held open through all
of them arrives whole at the end (the platform's time limits are lifted for it: the run may last longer).
"""

import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.measure import plugin_cpu
from devkit.daemon.process import DifyError, PluginProcess
from devkit.daemon.storage import PluginStorage
from relay.core.limits import MAX_CALL_BYTES
from tests import declarations
from tests.fuzz import strategies as fuzz
from tests.fuzz.conftest import EXAMPLES, FINDINGS
from tests.fuzz.contract import LEAKS

ROOT = Path(__file__).resolve().parents[2]
HELD_APP = "0d6f0c2e-5a1b-4e7d-8c3f-2b9a4d6e8f10"
LINE_BOUND = 1024 * 1024
SDK_NOT_ROUTED = 404  # undeclared methods: the SDK's own plain-text "Failed to dispatch endpoint request"
STATUSES = {200, 202, 204, 400, 401, 403, 404, 405, 413, 500, 502}
"""202 and 405 are MCP's (a notification; GET or DELETE on a stateless server)."""
"""500 only as ``endpoint_misconfigured`` (a setting to fix): checked below."""
ROUTES = [route for route in declarations.routes()]
REFUSED_BEFORE_DIFY = {400, 401, 403, 413}
DIFYS_REFUSAL = "invalid_input"
"""The one 4xx code that Dify gave (it refused the call before the run): the call reached Dify, no app ran."""
HELD_FOR = 3600
"""Seconds the held stream may stay open: the daemon's and the SDK's limits are set past the longest run."""
FILE_FORM = {"user_input_form": [{"file-list": {"variable": "x", "label": "X", "required": False}}]}
"""A form with a file input, so that file parts reach the upload."""

# What one request may cost, in proportion to what the client and the app sent (make fuzz's cost properties).
CPU_BASE = 0.5
"""Plugin CPU seconds any request may take: the SDK's own work, the kernel's 10 ms ticks, a busy machine."""
CPU_PER_BYTE = 200e-9
"""Plugin CPU per byte of request and answer: linear work (parsing, encoding, rendering) stays far below."""
OUTPUT_FACTOR = 4
OUTPUT_BASE = 96 * 1024
"""A response is at most 4x the bytes it carries, plus a page's frame (styles, form, translations)."""
STORAGE_WRITES = 16
"""Storage writes one request may make: a conversation's slot, entry, head and counters."""
MAX_APP_CALLS = 8
"""App calls one request may start: one, or a batch's cap."""


class CountingStorage(PluginStorage):
    """Plugin storage that counts the writes it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def answer(self, request: Any, quota: int | None) -> dict[str, Any]:
        if request.get("opt") == "set":
            self.writes += 1
        return super().answer(request, quota)


class MeasuredPlugin(PluginProcess):
    """Remembers the longest stdout line of each kind: an app call may be as large as the client's input
    allows (``relay.core.limits.MAX_CALL_BYTES``); everything else the plugin writes must stay under ``LINE_BOUND``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.longest: dict[str, int] = {}

    def _handle_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            kind = str(((message.get("data") or {}).get("type")) or message.get("event"))
        except (ValueError, AttributeError):
            kind = "other"
        self.longest[kind] = max(self.longest.get(kind, 0), len(line))
        super()._handle_line(line)


class FuzzedDify:
    """An ``AppBackend`` playing the current example's events and failure, plus one held-open stream."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.failure: str | None = None
        self.parameters: Any = {}
        self.release = threading.Event()
        self.calls = 0
        """App calls so far, the held stream's left out."""

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        if request.get("app_id") == HELD_APP:
            return self._held()
        self.calls += 1
        if self.failure is not None:
            raise DifyError(self.failure)
        return list(self.events)

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        if self.failure is not None:
            raise DifyError(self.failure)
        return self.parameters

    def _held(self) -> Iterator[dict[str, Any]]:
        yield {"event": "message", "answer": "held ", "conversation_id": "c", "message_id": "m"}
        self.release.wait(timeout=HELD_FOR)
        yield {"event": "message", "answer": "open", "conversation_id": "c", "message_id": "m"}
        yield {"event": "message_end", "conversation_id": "c", "message_id": "m", "metadata": {}}


@pytest.fixture(scope="module")
def dify() -> FuzzedDify:
    return FuzzedDify()


@pytest.fixture(scope="module")
def plugin(dify: FuzzedDify) -> Iterator[PluginProcess]:
    process = MeasuredPlugin(
        ROOT, dify, app_read_timeout=HELD_FOR, max_invocation_timeout=HELD_FOR, storage=CountingStorage()
    )
    process.start()
    held = process.request("GET", f"/chat/{HELD_APP}?query=hold", settings={"allowed_apps": "*"})
    chunks = held.chunks(timeout=HELD_FOR)
    first = next(chunks)
    yield process
    dify.release.set()
    events = [json.loads(line) for line in (first + b"".join(chunks)).split(b"\n") if line]
    assert "".join(event.get("answer", "") for event in events) == "held open", "the held stream was disturbed"
    assert events[-1]["event"] == "message_end"
    assert process.alive
    FINDINGS["longest plugin stdout line, by kind (bytes)"] = json.dumps(process.longest, sort_keys=True)
    calls = process.longest.pop("invoke", 0)
    assert calls < MAX_CALL_BYTES + 4096, process.longest
    assert max(process.longest.values()) < LINE_BOUND, process.longest
    process.stop()


def raw_requests() -> st.SearchStrategy[bytes]:
    """Whole HTTP requests as bytes, headers the SDK's parser may refuse included."""
    route = st.sampled_from(ROUTES)
    header_lines = st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "X_Under: 1",
                    "Content-Type: application/json",
                    "Content-Length: nope",
                    "Transfer-Encoding: chunked",
                    "Authorization Bearer sk-leak",
                    "Accept: text/html",
                    "X-Bytes: \xff\xfe",
                ]
            ),
            st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=30),
        ),
        max_size=4,
    )
    return st.builds(
        lambda route, query, lines, body: (
            (
                f"{route.method} {route.path.replace('<app_id>', fuzz.KNOWN_APP)}?{query} HTTP/1.1\r\nHost: x\r\n"
                + "".join(line + "\r\n" for line in lines)
                + "\r\n"
            ).encode("latin-1", "replace")
            + body
        ),
        route,
        fuzz.query_strings(),
        header_lines,
        st.binary(max_size=64),
    )


def _examples() -> int:
    return max(settings().max_examples // 4, 30)


@settings(max_examples=_examples())
@given(
    data=st.data(),
    raw=st.one_of(st.none(), raw_requests()),
    route=st.sampled_from(ROUTES),
    app_id=fuzz.app_ids(),
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]),
    query_string=fuzz.query_strings(),
    headers=fuzz.header_sets(),
    body=fuzz.bodies(),
    plugin_settings=fuzz.settings_values(),
    events=fuzz.event_streams(),
    failure=fuzz.dify_failures,
)
def test_the_plugin_process_survives_anything(
    plugin, dify, data, raw, route, app_id, method, query_string, headers, body, plugin_settings, events, failure
):
    EXAMPLES["through the plugin process"] += 1
    dify.events, dify.failure = events, failure
    dify.parameters = data.draw(st.one_of(fuzz.json_values, st.just({"opening_statement": "hi"}), st.just(FILE_FORM)))
    calls_before, writes_before, cpu_before = dify.calls, plugin.storage.writes, plugin_cpu(plugin.pid)
    if raw is not None:
        response = plugin.send_raw(raw, plugin_settings)
        sent = len(raw)
    else:
        content_type, payload = body
        if content_type is not None:
            headers = {"Content-Type": content_type, **headers}
        path = route.path.replace("<app_id>", app_id.replace("\n", "%0A")) + f"?{query_string}"
        response = plugin.request(method, path, headers=headers, body=payload, settings=plugin_settings)
        sent = len(path) + len(payload) + sum(len(str(name)) + len(str(value)) for name, value in headers.items())

    text = response.read(timeout=60).decode("utf-8")
    check_cost(plugin, dify, sent, len(text.encode()), calls_before, writes_before, cpu_before)
    assert response.error is None, response.error_data
    assert response.status in STATUSES | {SDK_NOT_ROUTED}, text[:300]
    for leak in LEAKS:
        assert leak not in text
    assert "sk-leak" not in text
    assert response.status != 500 or "endpoint_misconfigured" in text
    if response.status in REFUSED_BEFORE_DIFY and DIFYS_REFUSAL not in text:
        assert dify.calls == calls_before, f"an app ran for a request answered {response.status}"
    if response.status == 200:
        check_stream(response.header("Content-Type") or "", text)
    assert plugin.alive


def check_cost(
    plugin: PluginProcess, dify: FuzzedDify, sent: int, written: int, calls: int, writes: int, cpu: float
) -> None:
    """What one request cost the plugin stays in proportion to what the client and the app sent."""
    answered = len(json.dumps([dify.events, dify.parameters, dify.failure], allow_nan=True))
    carried = sent + answered
    used = plugin_cpu(plugin.pid) - cpu
    assert used <= CPU_BASE + CPU_PER_BYTE * (carried + written), f"{used:.2f} s of CPU for {carried} bytes"
    assert written <= OUTPUT_FACTOR * carried + OUTPUT_BASE, f"{written} bytes out for {carried} in"
    assert dify.calls - calls <= MAX_APP_CALLS
    assert plugin.storage.writes - writes <= STORAGE_WRITES


def check_stream(content_type: str, text: str) -> None:
    """A 200 body is whole in its format: NDJSON lines of JSON, SSE frames, a page that ends."""
    if content_type.startswith("application/x-ndjson"):
        for line in filter(None, text.split("\n")):  # not splitlines(): U+0085 and U+2028 are text inside a string
            json.loads(line)
    elif content_type.startswith("text/event-stream"):
        for frame in filter(None, text.split("\n\n")):
            assert all(line.startswith(("data: ", ":", "event: ", "id: ")) for line in frame.split("\n")), frame[:200]
    elif content_type.startswith("text/html") and text:
        assert text.rstrip().endswith("</html>"), text[-200:]
