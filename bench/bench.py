"""``python -m bench`` (``make bench``): App Relay against baselines measured in the same run.

Absolute timings on a shared machine say little; ratios against baselines measured seconds apart, through the
same plugin process and the same driver, say what the relay itself costs. Everything runs through the real
plugin processes over the daemon's stdio protocol (``devkit.daemon.process``), with a scripted chat app that
answers as fast as the pipe takes:

* **limit**, **floor** and **seed-style**: a minimal plugin generated for the run (``bench.baseline``);
* **ndjson**, **sse**, **html** and blocking **json**: this repository's ``/chat/<app>``, ``allowed_apps: *``.

Figures: events per plugin CPU-second over bursts (and ratios to the baselines), plugin CPU per event, time to
first byte one request at a time and with many streams in flight, RSS growth over a long stream, start-up.
The bench reports the issue's targets as met or not; it never fails on one.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.backend import BenchProcess, Script, ScriptedApps
from bench.baseline import write_baseline_plugin
from bench.measure import (
    RSS_WARM_UP,
    VARIANTS,
    Drivers,
    driver_cpu,
    loaded_ttfb,
    machine_cpu,
    plugin_cpu,
    rss_growth,
    sequential_ttfb,
    startups,
    throughput,
)
from bench.report import FLOOR_PLUGIN, RELAY_PLUGIN, Results, Setup, chart, markdown

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench"
SHORT = Script(8)
"""The short answer of the time-to-first-byte figures: 8 deltas and message_end."""
PACE = 0.1
"""Seconds between two deltas of a stream kept in flight: 10 tokens a second, a large model's pace. 200 such streams
bring 2,000 events a second, about a third of what Dify's SDK alone can take in on one core (the limit's events
per CPU-second): a busy plugin, not a drowned one. At 40 tokens a second they would bring more than the SDK can
read, and every variant, the limit included, would measure only its queue."""
MIN_CPU = 0.5

FULL = {
    "events": 20_000,
    "rounds": 5,
    "requests": 200,
    "concurrent": 200,
    "stream_deltas": 40,
    "rss_events": 100_000,
    "startups": 5,
}
QUICK = {
    "events": 5_000,
    "rounds": 3,
    "requests": 50,
    "concurrent": 50,
    "stream_deltas": 40,
    "rss_events": 20_000,
    "startups": 3,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="App Relay against baselines measured in the same run, through the real plugin processes.",
        epilog=(
            "Writes results.md and throughput.png into --output (default: bench/ of the repository); "
            "--quick writes nothing unless --output is given. Defaults: "
            + ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in FULL.items())
            + "; --quick: "
            + ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in QUICK.items())
            + "."
        ),
    )
    parser.add_argument("--events", type=int, help="events per burst (deltas; message_end comes on top)")
    parser.add_argument("--rounds", type=int, help="rounds of bursts; figures are the medians")
    parser.add_argument("--requests", type=int, help="sequential requests per variant for time to first byte")
    parser.add_argument(
        "--concurrent", type=int, help="streams kept in flight while time to first byte is measured again"
    )
    parser.add_argument(
        "--stream-deltas", type=int, help=f"deltas of each stream kept in flight, {PACE * 1000:g} ms apart"
    )
    parser.add_argument("--rss-events", type=int, help="events of the stream whose RSS growth is measured")
    parser.add_argument("--startups", type=int, help="start-ups per plugin")
    parser.add_argument(
        "--min-cpu",
        type=float,
        default=MIN_CPU,
        help=f"plugin CPU seconds a burst measure must reach; short bursts are repeated (default {MIN_CPU})",
    )
    parser.add_argument("--quick", action="store_true", help="a shorter run, to try a change (about a minute)")
    parser.add_argument("--output", type=Path, help="directory for results.md and throughput.png")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1")
    output: Path | None = args.output if args.output is not None else None if args.quick else DEFAULT_OUTPUT
    command = " ".join(["python -m bench", *argv])

    clock = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - clock:6.1f} s] {message}", file=sys.stderr, flush=True)

    apps = ScriptedApps()
    paced = Script(args.stream_deltas, PACE)
    apps.prepare(args.events, args.rss_events, min(args.rss_events, RSS_WARM_UP), SHORT.count, paced.count)
    with tempfile.TemporaryDirectory(prefix="app-relay-bench-") as scratch:
        baseline = write_baseline_plugin(ROOT, Path(scratch) / "baseline")
        progress(f"start-up: {args.startups} of each plugin")
        startup = startups({RELAY_PLUGIN: ROOT, FLOOR_PLUGIN: baseline}, apps, args.startups)
        with BenchProcess(ROOT, apps) as relay, BenchProcess(baseline, apps) as base:
            drivers = Drivers({"relay": relay, "baseline": base})
            named = [(variant.name, variant) for variant in VARIANTS]
            ours = _our_cpu(relay, base)
            everyone, measuring = machine_cpu(), time.perf_counter()
            progress(f"throughput: bursts of {args.events:,} events, {args.rounds} rounds")
            through = throughput(drivers, args.events, args.rounds, args.min_cpu, progress)
            progress(f"time to first byte: {args.requests} sequential requests per variant")
            sequential = sequential_ttfb(drivers, args.requests, SHORT)
            progress(f"time to first byte: {args.requests} requests per variant, {args.concurrent} streams in flight")
            concurrent = {
                name: loaded_ttfb(drivers, variant, args.concurrent, args.requests, SHORT, paced)
                for name, variant in named
            }
            progress(f"RSS growth: a {args.rss_events:,}-event stream per variant, after a warm-up one")
            rss = {name: rss_growth(drivers, variant, args.rss_events) for name, variant in named}
            others = machine_cpu() - everyone - (_our_cpu(relay, base) - ours)
            others /= time.perf_counter() - measuring

    setup = Setup(
        events=args.events,
        rounds=args.rounds,
        requests=args.requests,
        concurrent=args.concurrent,
        rss_events=args.rss_events,
        startups=args.startups,
        short=f"a short answer: {SHORT.count} deltas",
        paced=f"each {paced.count} deltas {PACE * 1000:g} ms apart, started again when it ends",
    )
    results = Results(setup, machine(command), through, sequential, concurrent, rss, startup, others)
    results.elapsed = time.perf_counter() - clock
    text = markdown(results)
    print(text)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "results.md").write_text(text, encoding="utf-8")
        chart(results, output / "throughput.png")
        progress(f"wrote {output / 'results.md'} and {output / 'throughput.png'}")
    return 0


def _our_cpu(*processes: BenchProcess) -> float:
    """CPU seconds of this process and of the plugin processes it drives."""
    return driver_cpu() + sum(plugin_cpu(process.pid) for process in processes if process.pid)


def machine(command: str) -> dict[str, str]:
    """What a reader needs to weigh the figures: when, on what, of which plugin."""
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    plugin = f"{manifest.get('name')} {manifest.get('version')}"
    revision = _git("rev-parse", "--short", "HEAD")
    if revision:
        changed = bool(_git("status", "--porcelain", "--", "relay", "endpoints", "main.py", "manifest.yaml"))
        plugin += f" (commit {revision}{', with uncommitted changes' if changed else ''})"
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "dify_plugin": importlib.metadata.version("dify_plugin"),
        "plugin": plugin,
        "command": command,
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown CPU"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
