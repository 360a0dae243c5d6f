"""The streaming engine through the real plugin process: keep-alives while an app is silent (before its first
event too), waiting events coalesced into one chunk, clean ends at the platform's limits, every event out the
moment it arrives."""

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from devkit.serve import create_server
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


def _until_keepalive(chunks: Iterator[bytes], fmt: str) -> list[bytes]:
    seen = [next(chunks)]
    while KEEPALIVES[fmt] not in b"".join(seen):  # the app waits on its gate: only keep-alives can come
        seen.append(next(chunks))
    return seen


@pytest.mark.parametrize("fmt", KEEPALIVES)
def test_a_silent_app_gets_keep_alives_and_its_events_stay_byte_identical(plugin, apps, fmt):
    apps.gate.clear()
    response = plugin.request("GET", f"/chat/{GATED_APP}?query=hi&format={fmt}")
    chunks = response.chunks(timeout=10)
    seen = _until_keepalive(chunks, fmt)
    apps.gate.set()
    body = b"".join(seen) + b"".join(chunks)
    assert body.count(KEEPALIVES[fmt]) >= 1
    without = body.replace(KEEPALIVES[fmt], b"")
    reference = plugin.request("GET", f"/chat/{GATED_APP}?query=hi&format={fmt}").read()  # gate open: no pause
    assert without == reference


@pytest.mark.parametrize("fmt", KEEPALIVES)
def test_an_app_silent_before_its_first_event_gets_its_status_and_keep_alives(plugin, apps, fmt):
    # A model that thinks before its first word: the response starts after one keep-alive interval anyway, so
    # that proxies see bytes; the answer follows when it comes.
    apps.gate.clear()
    response = plugin.request("GET", f"/chat/{GATED_APP}?query=late&format={fmt}")
    assert response.status == 200
    chunks = response.chunks(timeout=10)
    seen = _until_keepalive(chunks, fmt)
    apps.gate.set()
    body = (b"".join(seen) + b"".join(chunks)).replace(KEEPALIVES[fmt], b"")
    assert (b"first" in body and body.count(b"message_end") == 1) or fmt == "html"
    if fmt == "ndjson":
        assert [json.loads(line)["event"] for line in body.splitlines()] == ["message", "message_end"]


@pytest.mark.parametrize("fmt", ["ndjson", "sse"])
def test_a_refusal_that_comes_after_the_status_ends_the_stream_in_band(plugin, apps, fmt):
    apps.gate.clear()
    response = plugin.request("GET", f"/chat/{GATED_APP}?query=late%20refusal&format={fmt}")
    assert response.status == 200
    chunks = response.chunks(timeout=10)
    seen = _until_keepalive(chunks, fmt)
    apps.gate.set()
    body = (b"".join(seen) + b"".join(chunks)).replace(KEEPALIVES[fmt], b"").decode()
    events = [json.loads(line.removeprefix("data: ")) for line in body.split("\n") if line.strip()]
    assert events == [{"event": "error", "code": "app_not_found", "message": "app not found"}]


def test_refusals_that_come_at_once_still_choose_the_status(plugin):
    response = plugin.request("GET", "/chat/77777777-7777-4777-8777-777777777777?query=hi&format=sse")
    assert response.status == 404


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html"])
def test_events_waiting_together_share_a_chunk(plugin, apps, fmt):
    # A burst: Dify's events reach the plugin faster than one chunk per event could go out.
    burst = [
        {"event": "message", "answer": f"token {i} ", "conversation_id": "c", "message_id": "m"} for i in range(5000)
    ]
    apps.script = [*burst, {"event": "message_end", "conversation_id": "c", "message_id": "m", "metadata": {}}]
    response = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi&format={fmt}")
    # This module's keep-alive interval is 0.2 s: on a busy machine one may fall inside the burst, as it should.
    body = response.read().replace(KEEPALIVES[fmt], b"")
    if fmt == "html":
        assert body.count(b"token 4999 ") >= 1 and body.rstrip().endswith(b"</html>")
    else:
        lines = [line.removeprefix(b"data: ") for line in body.split(b"\n") if line.strip()]
        assert [json.loads(line).get("answer") for line in lines[:-1]] == [event["answer"] for event in burst]
    assert len(response.chunk_sizes) < len(burst) / 2  # far fewer messages than events
    assert max(response.chunk_sizes) <= 256 * 1024


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html"])
def test_no_chunk_passes_256_kib_whatever_the_events(plugin, apps, fmt):
    # Events of 300 KiB: each would make a chunk past 256 KiB, so each is sliced. (The plugin reads Dify's events
    # 64 KiB at a time, so through a pipe only small events wait together; slicing a batch of many is shown in
    # tests/unit/test_pump.py.)
    filler = "x" * 300 * 1024
    burst = [
        {"event": "message", "answer": f"{i} {filler}", "conversation_id": "c", "message_id": "m"} for i in range(5)
    ]
    apps.script = [*burst, {"event": "message_end", "conversation_id": "c", "message_id": "m", "metadata": {}}]
    response = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi&format={fmt}")
    body = response.read()
    assert body.count(filler.encode()) >= 5
    assert max(response.chunk_sizes) == 256 * 1024  # the largest pieces are exactly the limit: sliced
    assert plugin.max_line_bytes < 1024 * 1024


def test_when_the_client_goes_away_the_plugin_stops_at_the_sdks_silence_limit(plugin, apps):
    # The daemon tells the plugin nothing when a client leaves: it cancels its call to Dify and drops the session,
    # so the app's events just stop. The plugin's SDK gives the call up after MAX_INVOCATION_TIMEOUT seconds of
    # silence (1 s here, 250 s in production), and the relay then ends the body it was writing for nobody.
    response = plugin.request("GET", f"/chat/{TICKING_APP}?query=hi")
    next(response.chunks())
    response.close()  # the client is gone
    deadline = time.monotonic() + 10
    logged = ""
    while time.monotonic() < deadline and "invocation exited without response" not in logged:
        time.sleep(0.1)
        logged = "\n".join(plugin.recent_logs)
    assert "invocation exited without response after 1 seconds" in logged
    # Nothing of that call reached the plugin once its client was gone: the daemon had dropped its session.
    assert plugin.backwards_after_close(response) == 0
    assert plugin.alive
    assert plugin.request("GET", f"/chat/{GATED_APP}?query=hi").status == 200


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html"])
def test_a_response_ends_cleanly_before_the_daemons_request_limit(apps, fmt):
    # The daemon cuts an endpoint request PLUGIN_MAX_EXECUTION_TIMEOUT seconds after its first chunk and appends
    # its own "killed by timeout" JSON; the plugin, which gets the daemon's environment, ends first, in band.
    apps.gate.clear()
    server = create_server(ROOT, apps, settings={"allowed_apps": "*"}, max_execution_timeout=1, console=print)
    server.serve_in_background()
    try:
        url = f"{server.endpoint_url}/chat/{GATED_APP}?query=hi&format={fmt}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            body = answer.read().decode()
    finally:
        apps.gate.set()
        server.close()
    assert "killed by timeout" not in body
    assert "PLUGIN_MAX_EXECUTION_TIMEOUT" in body and "1 s" in body
    if fmt == "html":
        assert body.rstrip().endswith("</html>")
    else:
        events = [json.loads(line.removeprefix("data: ")) for line in body.split("\n") if line.strip()]
        assert events[-1]["code"] == "timeout"
        assert [event["event"] for event in events].count("error") == 1
