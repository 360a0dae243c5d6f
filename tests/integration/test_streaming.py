"""The streaming engine through the real plugin process: keep-alives while an app is silent, waiting events
coalesced into one chunk, every event out the moment it arrives."""

import json
from collections.abc import Iterator

import pytest

from tests.integration.apps import GATED_APP, SCRIPTED_APP, ScriptedApps
from tests.integration.conftest import ROOT, OpenEndpoint

KEEPALIVE_SECONDS = 0.2
KEEPALIVES = {"ndjson": b'{"event":"ping"}\n', "sse": b": keep-alive\n\n", "html": b"<!-- keep-alive -->"}


@pytest.fixture(scope="module")
def plugin(apps: ScriptedApps) -> Iterator[OpenEndpoint]:
    process = OpenEndpoint(ROOT, apps, env={"APP_RELAY_KEEPALIVE_SECONDS": str(KEEPALIVE_SECONDS)})
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize("fmt", KEEPALIVES)
def test_a_silent_app_gets_keep_alives_and_its_events_stay_byte_identical(plugin, apps, fmt):
    apps.gate.clear()
    response = plugin.request("GET", f"/chat/{GATED_APP}?query=hi&format={fmt}")
    chunks = response.chunks(timeout=10)
    seen = [next(chunks)]
    while KEEPALIVES[fmt] not in b"".join(seen):  # the app waits on its gate: only keep-alives can come
        seen.append(next(chunks))
    apps.gate.set()
    body = b"".join(seen) + b"".join(chunks)
    assert body.count(KEEPALIVES[fmt]) >= 1
    without = body.replace(KEEPALIVES[fmt], b"")
    reference = plugin.request("GET", f"/chat/{GATED_APP}?query=hi&format={fmt}").read()  # gate open: no pause
    assert without == reference


def test_events_waiting_together_share_a_chunk_and_no_chunk_passes_256_kib(plugin, apps):
    burst = [
        {"event": "message", "answer": f"token {i} ", "conversation_id": "c", "message_id": "m"} for i in range(5000)
    ]
    apps.script = [*burst, {"event": "message_end", "conversation_id": "c", "message_id": "m", "metadata": {}}]
    response = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi")
    body = response.read()
    lines = body.split(b"\n")[:-1]
    assert len(lines) == 5001
    assert [json.loads(line)["answer"] for line in lines[:-1]] == [event["answer"] for event in burst]
    assert len(response.chunk_sizes) < len(lines) / 2  # a burst goes out in far fewer messages than events
    assert max(response.chunk_sizes) <= 256 * 1024
    assert plugin.max_line_bytes < 1024 * 1024
