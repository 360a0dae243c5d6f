"""The figures of ``make bench``, each measured on the plugin process itself through ``/proc``.

CPU is the process's ``utime + stime`` (``/proc/<pid>/stat``), memory its ``VmRSS`` (``/proc/<pid>/status``):
what the kernel charged to the plugin, whatever this process (the driver, standing in for Dify's daemon) was
doing meanwhile. The driver's own CPU is measured alongside (``getrusage``), so a reader can tell who was busy.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.backend import TOKENS, BenchProcess, Script, ScriptedApps

APP_ID = "0b3f7c1e-5a2d-4e8f-9c6b-1d2e3f4a5b6c"
RELAY_SETTINGS = {"allowed_apps": "*"}
_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A plugin answered something other than the whole stream it was asked for: no figure can be trusted."""


@dataclass(frozen=True)
class Variant:
    name: str
    plugin: str
    """``baseline`` (the generated plugin) or ``relay`` (this repository)."""
    path: str
    """The request path, with ``{app}`` and ``{query}`` to fill in."""
    kind: str
    """``baseline`` or ``format``: the targets concern the formats."""
    streams: bool = True
    """False where the first byte is the whole answer (limit, blocking json)."""

    def url(self, script: Script) -> str:
        return self.path.format(app=APP_ID, query=script.query)


VARIANTS = (
    Variant("limit", "baseline", "/limit/{app}?query={query}", "baseline", streams=False),
    Variant("floor", "baseline", "/floor/{app}?query={query}", "baseline"),
    Variant("seed-style", "baseline", "/seed/{app}?query={query}", "baseline"),
    Variant("ndjson", "relay", "/chat/{app}?query={query}&format=ndjson", "format"),
    Variant("sse", "relay", "/chat/{app}?query={query}&format=sse", "format"),
    Variant("html", "relay", "/chat/{app}?query={query}&format=html", "format"),
    Variant("json", "relay", "/chat/{app}?query={query}&format=json", "format", streams=False),
)
LIMIT, FLOOR, SEED = VARIANTS[0], VARIANTS[1], VARIANTS[2]
FORMATS = tuple(variant for variant in VARIANTS if variant.kind == "format")


def plugin_cpu(pid: int) -> float:
    """CPU seconds the process has used, user and system, all its threads (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of stat(5)


def plugin_rss(pid: int) -> int:
    """The process's resident set, in bytes (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for process {pid}")


def driver_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> float:
    """CPU seconds every process of the machine has used since boot (``/proc/stat``, not idle nor iowait)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS


@dataclass
class Drivers:
    """The two plugin processes, each driven over stdio by a ``BenchProcess``."""

    processes: Mapping[str, BenchProcess]

    def of(self, variant: Variant) -> BenchProcess:
        return self.processes[variant.plugin]

    def pid(self, variant: Variant) -> int:
        pid = self.of(variant).pid
        if pid is None:
            raise BenchError(f"the {variant.plugin} plugin is not running")
        return pid

    def run(self, variant: Variant, script: Script) -> tuple[bytes, list[float], float]:
        """One request, read to its end; return the body, each chunk's arrival and when the request was sent
        (all ``time.monotonic()``)."""
        process = self.of(variant)
        settings = RELAY_SETTINGS if variant.plugin == "relay" else {}
        sent = time.monotonic()
        response = process.request("GET", variant.url(script), settings=settings, timeout=120)
        body = response.read(timeout=120)
        if response.status != 200 or response.error or not response.chunk_times:
            tail = "\n".join(list(process.recent_logs)[-10:])
            raise BenchError(
                f"{variant.name}: status {response.status}, error {response.error!r}, body {body[:300]!r}\n{tail}"
            )
        _check_whole(variant, script, body)
        return body, response.chunk_times, sent


def _check_whole(variant: Variant, script: Script, body: bytes) -> None:
    """A variant that dropped events would look fast: count them where the body shows them."""
    count = script.count
    expected: dict[str, Callable[[], bool]] = {
        "limit": lambda: body == f"{count + 1} events\n".encode(),
        "floor": lambda: body.count(b"\n") == count + 1,
        "seed-style": lambda: body.count(b"<br>") == count + 1,
        "ndjson": lambda: body.count(b'"event":"message"') == count and b'"event":"message_end"' in body,
        "sse": lambda: body.count(b'"event":"message"') == count and b'"event":"message_end"' in body,
        # Each delta shows once as it streams (escaped text), then the whole answer again, rendered.
        "html": lambda: body.rstrip().endswith(b"</html>") and body.count(b" streams") >= count // len(TOKENS),
        "json": lambda: b'"answer"' in body and b'"message_id"' in body,
    }
    if not expected[variant.name]():
        raise BenchError(f"{variant.name}: the body of a {count}-event answer is incomplete: {body[-300:]!r}")


# -- throughput under a burst ------------------------------------------------------------------------------------


@dataclass
class Sample:
    events: int
    plugin_cpu: float
    driver_cpu: float
    wall: float

    @property
    def rate(self) -> float:
        """Events per plugin CPU-second."""
        return self.events / max(self.plugin_cpu, 1 / _TICKS)


def burst(drivers: Drivers, variant: Variant, events: int, min_cpu: float) -> Sample:
    """Bursts of ``events`` deltas, repeated until the plugin has used ``min_cpu`` seconds (the kernel counts in
    ticks of 10 ms: a blocking answer costs less than one)."""
    pid = drivers.pid(variant)
    script = Script(events)
    total = Sample(0, 0.0, 0.0, 0.0)
    while total.plugin_cpu < min_cpu and total.events < 200 * max(events, 1):
        cpu, own, started = plugin_cpu(pid), driver_cpu(), time.perf_counter()
        drivers.run(variant, script)
        total.wall += time.perf_counter() - started
        total.plugin_cpu += plugin_cpu(pid) - cpu
        total.driver_cpu += driver_cpu() - own
        total.events += events + 1  # the deltas and message_end
    return total


@dataclass
class Throughput:
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    ratios: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """Per variant, per reference (limit, floor, seed-style), the ratio of each round."""

    def rate(self, name: str) -> float:
        return statistics.median(sample.rate for sample in self.samples[name])

    def rates(self, name: str) -> list[float]:
        return [sample.rate for sample in self.samples[name]]

    def ratio(self, name: str, reference: str) -> float:
        if name == reference:
            return 1.0
        return statistics.median(self.ratios[name][reference])

    def driver_us(self, name: str) -> float:
        return statistics.median(s.driver_cpu / s.events for s in self.samples[name]) * 1e6

    def busy(self, name: str) -> float:
        """Plugin CPU over wall time: near 1, the plugin was never left waiting for the driver."""
        return statistics.median(s.plugin_cpu / s.wall for s in self.samples[name] if s.wall)


def throughput(
    drivers: Drivers, events: int, rounds: int, min_cpu: float, progress: Callable[[str], None]
) -> Throughput:
    """Each round measures every variant right between two measures of the limit (L a L b L ... L), so each
    ratio compares measures taken seconds apart; the order of the variants alternates from round to round."""
    others = [variant for variant in VARIANTS if variant is not LIMIT]
    for variant in VARIANTS:  # warm-up: code paths, caches and allocator pools of both plugins
        burst(drivers, variant, events, min_cpu / 4)
    result = Throughput({variant.name: [] for variant in VARIANTS})
    for variant in VARIANTS:
        result.ratios[variant.name] = {LIMIT.name: [], FLOOR.name: [], SEED.name: []}
    for round_index in range(rounds):
        progress(f"throughput: round {round_index + 1}/{rounds}")
        order = others if round_index % 2 == 0 else others[::-1]
        previous = burst(drivers, LIMIT, events, min_cpu)
        result.samples[LIMIT.name].append(previous)
        to_limit: dict[str, float] = {}
        for variant in order:
            sample = burst(drivers, variant, events, min_cpu)
            following = burst(drivers, LIMIT, events, min_cpu)
            result.samples[variant.name].append(sample)
            result.samples[LIMIT.name].append(following)
            to_limit[variant.name] = sample.rate / ((previous.rate + following.rate) / 2)
            previous = following
        result.ratios[LIMIT.name][FLOOR.name].append(1 / to_limit[FLOOR.name])
        result.ratios[LIMIT.name][SEED.name].append(1 / to_limit[SEED.name])
        for variant in others:
            ratios = result.ratios[variant.name]
            ratios[LIMIT.name].append(to_limit[variant.name])
            ratios[FLOOR.name].append(to_limit[variant.name] / to_limit[FLOOR.name])
            ratios[SEED.name].append(to_limit[variant.name] / to_limit[SEED.name])
    return result


# -- time to first byte ------------------------------------------------------------------------------------------


@dataclass
class Latency:
    p50: float
    p99: float
    count: int


def percentiles(seconds: Sequence[float]) -> Latency:
    ordered = sorted(seconds)
    if not ordered:
        raise BenchError("no time to first byte was measured")

    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]  # nearest rank
    return Latency(p50=statistics.median(ordered), p99=p99, count=len(ordered))


def first_byte(drivers: Drivers, variant: Variant, script: Script) -> float:
    _, arrivals, sent = drivers.run(variant, script)
    return arrivals[0] - sent


def sequential_ttfb(drivers: Drivers, requests: int, script: Script) -> dict[str, Latency]:
    """``requests`` requests per variant, one at a time, the variants taking turns (alternating order)."""
    for variant in VARIANTS:
        for _ in range(min(10, requests)):
            first_byte(drivers, variant, script)
    seconds: dict[str, list[float]] = {variant.name: [] for variant in VARIANTS}
    for index in range(requests):
        for variant in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
            seconds[variant.name].append(first_byte(drivers, variant, script))
    return {name: percentiles(values) for name, values in seconds.items()}


@dataclass
class Loaded:
    """Time to first byte while other streams are in flight, and how busy both processes were meanwhile."""

    latency: Latency
    in_flight: int
    """The fewest background streams in flight when a measured request was sent."""
    plugin_busy: float
    driver_busy: float


def loaded_ttfb(
    drivers: Drivers, variant: Variant, streams: int, requests: int, short: Script, paced: Script
) -> Loaded:
    """``requests`` sequential requests for ``short`` while ``streams`` background streams of ``paced`` deltas
    keep the plugin busy: each background stream starts again as soon as it ends, until the measure is over."""
    process, pid = drivers.of(variant), drivers.pid(variant)
    settings = RELAY_SETTINGS if variant.plugin == "relay" else {}
    stop = threading.Event()
    lock = threading.Lock()
    state = {"in_flight": 0, "started": 0}
    failures: list[BaseException] = []
    all_started = threading.Event()

    def background() -> None:
        first = True
        try:
            while not stop.is_set():
                with lock:
                    state["in_flight"] += 1
                try:
                    response = process.request("GET", variant.url(paced), settings=settings, timeout=120)
                    if first:
                        first = False
                        with lock:
                            state["started"] += 1
                            if state["started"] == streams:
                                all_started.set()
                    response.read(timeout=120)
                    if response.status != 200 or response.error:
                        raise BenchError(f"{variant.name}: a background stream failed: {response.error!r}")
                finally:
                    with lock:
                        state["in_flight"] -= 1
        except BaseException as exc:
            failures.append(exc)
            all_started.set()

    threads = [threading.Thread(target=background, name=f"bench-stream-{n}", daemon=True) for n in range(streams)]
    for thread in threads:
        thread.start()
    try:
        if not all_started.wait(120) or failures:
            raise BenchError(f"{variant.name}: the background streams did not start: {failures[:1]!r}")
        fewest = streams
        cpu, own, started = plugin_cpu(pid), driver_cpu(), time.perf_counter()
        seconds = []
        for _ in range(requests):
            with lock:
                fewest = min(fewest, state["in_flight"])
            seconds.append(first_byte(drivers, variant, short))
        wall = time.perf_counter() - started
        plugin_busy, driver_busy = (plugin_cpu(pid) - cpu) / wall, (driver_cpu() - own) / wall
    finally:
        stop.set()
        for thread in threads:
            thread.join(130)
    if failures:
        raise BenchError(f"{variant.name}: a background stream failed") from failures[0]
    return Loaded(percentiles(seconds), fewest, plugin_busy, driver_busy)


# -- memory and start-up -----------------------------------------------------------------------------------------


RSS_WARM_UP = 10_000
"""Events of the stream that warms a plugin up (its caches, its allocator's pools) before its RSS is measured."""


def rss_growth(drivers: Drivers, variant: Variant, events: int) -> int:
    """The peak of VmRSS during a stream of ``events`` minus VmRSS before it, once a first stream (of at most
    ``RSS_WARM_UP`` events) warmed the plugin up: what a long answer holds at its largest, not only what it leaves
    behind."""
    pid = drivers.pid(variant)
    drivers.run(variant, Script(min(events, RSS_WARM_UP)))
    before = plugin_rss(pid)
    peak_reset = _reset_peak_rss(pid)
    drivers.run(variant, Script(events))
    after = _peak_rss(pid) if peak_reset else plugin_rss(pid)
    return after - before


def _reset_peak_rss(pid: int) -> bool:
    """Reset the process's ``VmHWM`` to its current RSS (Linux 4.0+, writing 5 to ``clear_refs``)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmHWM for process {pid}")


def startup_seconds(plugin_dir: Path, apps: ScriptedApps, env: Mapping[str, str] | None = None) -> float:
    """Spawn to manifest: from then on the daemon sends the plugin requests."""
    process = BenchProcess(plugin_dir, apps, env=env)
    started = time.perf_counter()
    try:
        process.start()
        assert process.manifest_at is not None
        return process.manifest_at - started
    finally:
        process.stop()


def startups(dirs: Mapping[str, Path], apps: ScriptedApps, count: int) -> dict[str, list[float]]:
    """``count`` start-ups of each plugin, taking turns."""
    seconds: dict[str, list[float]] = {name: [] for name in dirs}
    names = list(dirs)
    for index in range(count):
        for name in names if index % 2 == 0 else names[::-1]:
            seconds[name].append(startup_seconds(dirs[name], apps))
    return seconds
