"""The streaming engine through the real plugin process: keep-alives while an app is silent, waiting events
coalesced into one chunk, every event out the moment it arrives."""

import json
import time
from collections.abc import Iterator

import pytest

from tests.integration.apps import GATED_APP, SCRIPTED_APP, TICKING_APP, ScriptedApps
from tests.integration.conftest import ROOT, OpenEndpoint

KEEPALIVE_SECONDS = 0.2
KEEPALIVES = {"ndjson": b'{"event":"ping"}\n', "sse": b": keep-alive\n\n", "html": b"<!-- keep-alive -->"}


@pytest.fixture(scope="module")
def plugin(apps: ScriptedApps) -> Iterator[OpenEndpoint]:
    process = OpenEndpoint(
        ROOT, apps, env={"APP_RELAY_KEEPALIVE_SECONDS": str(KEEPALIVE_SECONDS)}, max_invocation_timeout=1
    )
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


def test_when_the_client_goes_away_the_plugin_stops_at_the_sdks_silence_limit(plugin, apps):
    # The daemon tells the plugin nothing when a client leaves: it cancels its call to Dify and drops the session,
    # so the app's events just stop. The plugin's SDK gives the call up after MAX_INVOCATION_TIMEOUT seconds of
    # silence (1 s here, 250 s in production), and the relay then ends the body it was writing for nobody.
    response = plugin.request("GET", f"/chat/{TICKING_APP}?query=hi")
    next(response.chunks())
    response.close()  # the client is gone
    ticks_at_close = apps.ticks
    deadline = time.monotonic() + 10
    logged = ""
    while time.monotonic() < deadline and "invocation exited without response" not in logged:
        time.sleep(0.1)
        logged = "\n".join(plugin.recent_logs)
    assert "invocation exited without response after 1 seconds" in logged
    assert plugin.alive
    assert plugin.request("GET", f"/chat/{GATED_APP}?query=hi").status == 200
    assert apps.ticks >= ticks_at_close  # Dify's side may run on; the plugin no longer waits for it
