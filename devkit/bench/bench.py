"""``make bench``: how fast the relay is, as ratios against baselines measured in the same run.

Absolute timings on a shared 2-core machine say little; a ratio against something measured seconds
earlier on the same machine says how much the relay itself costs.

1. Renderers, in-process: events per second through each format, against plain ``json.dumps``.
2. The real plugin over stdio: the relay's endpoint against a *bare relay* endpoint (built in a temporary
   copy of this plugin) that calls the same ``session.app.chat.invoke`` and writes ``json.dumps(event)``
   lines with no checks, no status peeking, no slicing: the least any relay must do. Measured: time to
   the first body chunk, a long stream's throughput, and twenty streams at once.
"""

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devkit.daemon.process import PluginProcess
from relay import CHAT
from relay.formats import PageInfo, render
from relay.request import Format

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "0b3f7c1e-5a2d-4e8f-9c6b-1d2e3f4a5b6c"

_BARE_ENDPOINT = """
import json
from dify_plugin import Endpoint
from werkzeug import Response


class BareChatEndpoint(Endpoint):
    def _invoke(self, r, values, settings):
        events = self.session.app.chat.invoke(
            app_id=values["app_id"], query=r.args.get("query", ""), inputs={}, response_mode="streaming"
        )

        def stream():
            for event in events:
                yield json.dumps(event) + "\\n"

        return Response(stream(), content_type="application/x-ndjson")
"""


class BenchApps:
    """A chat app that answers instantly with ``length`` deltas, so only the relay path is measured."""

    def __init__(self, length: int) -> None:
        self.length = length

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        common = {"conversation_id": "c", "message_id": "m", "task_id": "t", "created_at": 0}
        count = int(request.get("query") or self.length)
        for index in range(count):
            yield {"event": "message", "answer": f"token {index} ", **common}
        yield {"event": "message_end", "metadata": {"usage": {"total_tokens": count}}, **common}

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        return {}


def _events(count: int) -> list[dict[str, Any]]:
    return list(BenchApps(count).invoke_app({"query": str(count)}))


def _best_of(repeats: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def bench_renderers(count: int) -> list[tuple[str, float, float]]:
    events = _events(count)
    page = PageInfo(CHAT, APP_ID, "bench")
    baseline = _best_of(5, lambda: [json.dumps(event).encode() for event in events])
    rows = [("json.dumps per event (baseline)", baseline, 1.0)]
    for output in (Format.NDJSON, Format.SSE, Format.HTML):
        seconds = _best_of(5, lambda output=output: b"".join(render(output, iter(events), page)))
        rows.append((f"render {output.value}", seconds, seconds / baseline))
    return rows


def _bare_plugin(directory: Path) -> Path:
    """A copy of this plugin whose chat endpoint is the bare relay."""
    target = directory / "bare"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".*", "tests", "devkit", "dist", "__pycache__"))
    (target / "endpoints" / "chat.py").write_text(_BARE_ENDPOINT, encoding="utf-8")
    return target


def _first_chunk_seconds(plugin: PluginProcess, path: str) -> float:
    started = time.perf_counter()
    response = plugin.request("GET", path)
    next(response.chunks())
    elapsed = time.perf_counter() - started
    response.read()
    return elapsed


def _stream_seconds(plugin: PluginProcess, path: str) -> float:
    started = time.perf_counter()
    response = plugin.request("GET", path)
    for _ in response.chunks():
        pass
    return time.perf_counter() - started


def _concurrent_seconds(plugin: PluginProcess, path: str, streams: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        list(pool.map(lambda _: _stream_seconds(plugin, path), range(streams)))
    return time.perf_counter() - started


def bench_plugins(length: int, samples: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as scratch:
        bare_dir = _bare_plugin(Path(scratch))
        apps = BenchApps(length)
        with PluginProcess(ROOT, apps) as relay_plugin, PluginProcess(bare_dir, apps) as bare_plugin:
            short = f"/chat/{APP_ID}?query=3"
            long = f"/chat/{APP_ID}?query={length}"
            measures: list[tuple[str, Callable[[PluginProcess], float]]] = [
                (
                    "time to first chunk (median)",
                    lambda p: statistics.median(_first_chunk_seconds(p, short) for _ in range(samples)),
                ),
                (f"{length}-event stream", lambda p: min(_stream_seconds(p, long) for _ in range(3))),
                ("20 concurrent 200-event streams", lambda p: _concurrent_seconds(p, f"/chat/{APP_ID}?query=200", 20)),
            ]
            rows = []
            for name, measure in measures:
                measure(relay_plugin)  # warm up both before measuring
                measure(bare_plugin)
                bare = measure(bare_plugin)
                ours = measure(relay_plugin)
                rows.append((f"{name}: bare relay (baseline)", bare, 1.0))
                rows.append((f"{name}: App Relay", ours, ours / bare))
            return rows


def _print(title: str, rows: Iterable[tuple[str, float, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'measure':<58} {'seconds':>10} {'ratio':>8}")
    for name, seconds, ratio in rows:
        print(f"  {name:<58} {seconds:>10.4f} {ratio:>7.2f}x")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events per in-process render run")
    parser.add_argument("--stream-length", type=int, default=2000, help="events in the long plugin stream")
    parser.add_argument("--samples", type=int, default=30, help="requests per time-to-first-chunk median")
    args = parser.parse_args(argv)
    _print(f"Renderers, {args.events} chat events (ratio: time / json.dumps baseline)", bench_renderers(args.events))
    plugin_rows = bench_plugins(args.stream_length, args.samples)
    _print("The plugin over stdio (ratio: App Relay time / bare relay time)", plugin_rows)
    return 0
