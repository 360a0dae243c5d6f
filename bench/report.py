"""What ``make bench`` prints and writes: the table, the targets met or not, the machine, and the chart."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.measure import FLOOR, FORMATS, LIMIT, SEED, VARIANTS, Latency, Loaded, Throughput

RELAY_PLUGIN = "App Relay"
FLOOR_PLUGIN = "floor plugin"

DESCRIPTIONS = {
    "limit": "baseline plugin: reads every event, sends one line at the end",
    "floor": "baseline plugin: the same pre-encoded bytes per event, one chunk each",
    "seed-style": 'baseline plugin: `json.dumps(event) + "<br>"` per event, one chunk each',
    "ndjson": "App Relay, `/chat/<app>?format=ndjson`",
    "sse": "App Relay, `/chat/<app>?format=sse`",
    "html": "App Relay, `/chat/<app>?format=html`",
    "json": "App Relay, `/chat/<app>?format=json` (blocking: one document)",
}


@dataclass
class Setup:
    events: int
    rounds: int
    requests: int
    concurrent: int
    rss_events: int
    startups: int
    short: str
    """The short answer of the time-to-first-byte figures, in words."""
    paced: str
    """The streams kept in flight for the loaded figure, in words."""


@dataclass
class Results:
    setup: Setup
    machine: Mapping[str, str]
    throughput: Throughput
    sequential: Mapping[str, Latency]
    concurrent: Mapping[str, Loaded]
    """Time to first byte again, with ``setup.concurrent`` streams in flight."""
    rss: Mapping[str, int]
    """Bytes of VmRSS growth per variant."""
    startup: Mapping[str, list[float]]
    """Seconds per start-up, for ``RELAY_PLUGIN`` and ``FLOOR_PLUGIN``."""
    others: float
    """CPU the machine's other processes used meanwhile, in cores (CPU seconds per second)."""
    elapsed: float = 0.0


@dataclass
class Target:
    figure: str
    value: str
    goal: str
    met: bool | None
    """None: the target does not apply (the reason is in ``goal``)."""

    @property
    def verdict(self) -> str:
        return "n/a" if self.met is None else "met" if self.met else "**not met**"


# -- formatting --------------------------------------------------------------------------------------------------


def _int(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.2f}x"


def _ms(latency: Latency) -> str:
    return f"{latency.p50 * 1000:.1f} / {latency.p99 * 1000:.1f} ms"


def _percent(share: float) -> str:
    """A share of one core; the kernel counts CPU in 10 ms ticks, so a share measured as 1.02 is shown as 100 %."""
    return f"{min(share, 1.0) * 100:.0f} %"


def _mb(value: int) -> str:
    return f"{value / 1e6:+.1f} MB"


def _spread(values: list[float]) -> str:
    middle = statistics.median(values)
    return f"±{(max(values) - min(values)) / 2 / middle * 100:.0f} %" if middle else ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# -- targets -----------------------------------------------------------------------------------------------------


def targets(results: Results) -> list[Target]:
    """The issue's targets, each against the figure of this run it concerns."""
    through = results.throughput
    found: list[Target] = []
    for variant in FORMATS:
        share = 0.75 if variant.name == "html" else 0.85
        if variant.streams:
            value = through.ratio(variant.name, LIMIT.name)
            figure = f"{variant.name}: events per CPU-s ÷ limit"
            found.append(Target(figure, f"{value:.3f}x", f"≥ {share}", value >= share))
    for variant in FORMATS:
        for reference in (SEED, FLOOR):
            value = through.ratio(variant.name, reference.name)
            found.append(
                Target(f"{variant.name}: events per CPU-s ÷ {reference.name}", f"{value:.3f}x", "≥ 1.0", value >= 1.0)
            )
    floor = results.sequential[FLOOR.name].p50
    for variant in FORMATS:
        value = results.sequential[variant.name].p50
        found.append(
            Target(
                f"{variant.name}: time to first byte p50",
                f"{value * 1000:.1f} ms",
                f"≤ floor + 2 ms = {(floor + 0.002) * 1000:.1f} ms",
                value <= floor + 0.002,
            )
        )
    streams = results.setup.concurrent
    for variant in FORMATS:
        value = results.concurrent[variant.name].latency.p50
        found.append(
            Target(
                f"{variant.name}: time to first byte p50, {streams} streams in flight",
                f"{value * 1000:.1f} ms",
                "≤ 100 ms",
                value <= 0.1,
            )
        )
    for variant in FORMATS:
        value = results.rss[variant.name]
        found.append(
            Target(
                f"{variant.name}: RSS growth over {results.setup.rss_events:,} events",
                _mb(value),
                "≤ 5 MB",
                value <= 5_000_000,
            )
        )
    relay = statistics.median(results.startup[RELAY_PLUGIN])
    floor_start = statistics.median(results.startup[FLOOR_PLUGIN])
    found.append(
        Target(
            "start-up ÷ floor plugin's",
            f"{relay * 1000:.0f} ms ÷ {floor_start * 1000:.0f} ms = {_ratio(relay / floor_start)}",
            "≤ 1.1",
            relay <= 1.1 * floor_start,
        )
    )
    return found


# -- the document ------------------------------------------------------------------------------------------------


def markdown(results: Results) -> str:
    setup, machine, through = results.setup, results.machine, results.throughput
    lines = [
        "# `make bench`: App Relay against baselines measured in the same run",
        "",
        f"- **Date**: {machine['date']}",
        f"- **Machine**: {machine['nproc']} cores (`nproc`), {machine['cpu']}; Python {machine['python']}, "
        f"dify-plugin {machine['dify_plugin']}; other processes used {max(results.others, 0.0):.2f} cores on average "
        "while the plugins were measured (a busy machine blurs every figure)",
        f"- **Plugin**: {machine['plugin']}",
        f"- **Run**: bursts of {setup.events:,} events, median of {_n(setup.rounds, 'round')}; time to first "
        f"byte over {_n(setup.requests, 'sequential request')} ({setup.short}), alone and with "
        f"{_n(setup.concurrent, 'stream')} in flight ({setup.paced}); RSS over a {setup.rss_events:,}-event "
        "stream after a warm-up one of at most 10,000 events; "
        f"{_n(setup.startups, 'start-up')} per plugin; `{machine['command']}` took "
        f"{_duration(results.elapsed)}.",
        "",
    ]
    header = [
        "variant",
        "events / plugin CPU-s",
        "vs limit",
        "vs floor",
        "vs seed-style",
        "plugin CPU / event",
        "driver CPU / event",
        "plugin busy",
        "first byte p50 / p99",
        f"first byte p50 / p99, {setup.concurrent} streams in flight",
        f"RSS growth, {_short_count(setup.rss_events)} events",
    ]
    rows = []
    for variant in VARIANTS:
        name = variant.name
        rate = through.rate(name)
        rows.append(
            [
                f"**{name}**" if variant.kind == "format" else name,
                f"{_int(rate)} {_spread(through.rates(name))}",
                _ratio(through.ratio(name, LIMIT.name)),
                _ratio(through.ratio(name, FLOOR.name)),
                _ratio(through.ratio(name, SEED.name)),
                f"{1e6 / rate:.1f} µs",
                f"{through.driver_us(name):.1f} µs",
                _percent(through.busy(name)),
                _ms(results.sequential[name]),
                _ms(results.concurrent[name].latency),
                _mb(results.rss[name]),
            ]
        )
    lines += _table(header, rows)
    relay = statistics.median(results.startup[RELAY_PLUGIN])
    floor = statistics.median(results.startup[FLOOR_PLUGIN])
    loaded = results.concurrent
    lines += [
        "",
        f"**With {setup.concurrent} streams in flight**, CPU over wall time while the requests above were measured "
        "(plugin / driver): "
        + ", ".join(
            f"{name} {_percent(loaded[name].plugin_busy)} / {_percent(loaded[name].driver_busy)}" for name in loaded
        )
        + f"; fewest streams in flight at a measured request: {min(item.in_flight for item in loaded.values())}.",
        "",
        f"**Start-up** (spawn to manifest, median of {setup.startups}): App Relay "
        f"{relay * 1000:.0f} ms, floor plugin {floor * 1000:.0f} ms ({_ratio(relay / floor)} the floor's).",
        "",
        "## Targets",
        "",
    ]
    found = targets(results)
    lines += _table(["figure", "this run", "target", ""], [[t.figure, t.value, t.goal, t.verdict] for t in found])
    met = sum(1 for t in found if t.met)
    applicable = sum(1 for t in found if t.met is not None)
    lines += [
        "",
        f"{met} of {applicable} targets met.",
        "",
        "## Reading the table",
        "",
        *(f"- **{name}**: {text}." for name, text in DESCRIPTIONS.items()),
        "- **events / plugin CPU-s**: the events of a burst over the CPU the plugin process used for it (`utime + "
        "stime` of `/proc/<pid>/stat`, all threads), median of the rounds; ± is half the spread between rounds. "
        "Each variant is measured right between two measures of the limit, and its ratios are taken in its "
        "round, then the median over rounds. A blocking answer costs less than the kernel's 10 ms tick: its "
        "burst is repeated until the plugin has used enough CPU to count.",
        "- **driver CPU / event**: the CPU of the bench process itself, which stands for Dify's daemon (answers "
        "the app calls from pre-encoded events and reads the plugin's output). **plugin busy**: plugin CPU "
        "over wall time of a burst; near 100 %, the plugin never waited for the driver.",
        "- **first byte**: from the request sent to its first body chunk received, for a short answer that "
        "comes at once; the limit and blocking json send theirs when the answer is over. Then the same while "
        "background streams of the same variant stay in flight, each started again as soon as it ends.",
        "- **json**'s events are the deltas its one document carries: it costs one event's work per burst.",
        "- **RSS growth**: the peak of `VmRSS` during the stream (`VmHWM` of `/proc/<pid>/status`, reset before "
        "it) minus `VmRSS` before it.",
    ]
    return "\n".join(lines) + "\n"


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _short_count(count: int) -> str:
    return f"{count // 1000}k" if count >= 1000 and count % 1000 == 0 else f"{count:,}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


# -- the chart ---------------------------------------------------------------------------------------------------


def chart(results: Results, target: Path) -> None:
    """Events per plugin CPU-second per variant (median, with each round's spread), as a PNG.

    The axis stops a little past the streaming variants: a blocking answer, one document for the whole burst,
    goes far beyond, and its bar is cut with its figure written on it.
    """
    import matplotlib  # only the chart needs it, and it takes a second to import

    matplotlib.use("Agg")
    from matplotlib import pyplot, ticker

    through = results.throughput
    names = [variant.name for variant in VARIANTS]
    rates = [through.rate(name) for name in names]
    lowest = [min(through.rates(name)) for name in names]
    highest = [max(through.rates(name)) for name in names]
    limit = through.rate(LIMIT.name)
    top = max(high for variant, high in zip(VARIANTS, highest, strict=True) if variant.streams or variant is LIMIT)
    top = max(top, limit) * 1.5
    colours = ["#9aa5b1" if variant.kind == "baseline" else "#2f6fb3" for variant in VARIANTS]
    figure, axes = pyplot.subplots(figsize=(9, 4.8), dpi=110)
    positions = list(range(len(names)))[::-1]
    shown = [min(rate, top) for rate in rates]
    axes.barh(positions, shown, color=colours, height=0.62)
    for position, rate, low, high in zip(positions, rates, lowest, highest, strict=True):
        if high < top:
            axes.errorbar(rate, position, xerr=[[rate - low], [high - rate]], color="#222", capsize=3, linewidth=1)
    for share, style in ((1.0, "-"), (0.85, "--"), (0.75, ":")):
        axes.axvline(limit * share, color="#444", linestyle=style, linewidth=0.9)
    axes.text(limit, len(names) - 0.35, "limit", ha="left", fontsize=8, color="#444")
    axes.text(limit * 0.85, len(names) - 0.35, "0.85x ", ha="right", fontsize=8, color="#444")
    axes.text(limit * 0.75, len(names) - 0.35, "0.75x ", ha="right", fontsize=8, color="#444")
    for position, name, rate, high in zip(positions, names, rates, highest, strict=True):
        label = f"{rate:,.0f}  ({through.ratio(name, LIMIT.name):.2f}x limit)"
        if rate >= top:
            axes.text(top * 0.98, position, label + " →", va="center", ha="right", fontsize=8, color="white")
        else:
            axes.text(min(high, top) + top * 0.015, position, label, va="center", fontsize=8)
    axes.set_yticks(positions, names)
    axes.set_xlim(0, top)
    axes.set_ylim(-0.6, len(names) - 0.1)
    axes.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    axes.set_xlabel("events per plugin CPU-second (median; whiskers: lowest and highest round)")
    machine = results.machine
    axes.set_title(
        f"{results.setup.events:,}-event bursts through the plugin process · {machine['date']}\n"
        f"{machine['nproc']} cores, {machine['cpu']}, Python {machine['python']}, "
        f"dify-plugin {machine['dify_plugin']}",
        fontsize=9,
    )
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(target)
    pyplot.close(figure)
