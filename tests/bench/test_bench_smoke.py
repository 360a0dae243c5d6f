"""``make bench`` cannot rot: a run of a few hundred events through both real plugin processes produces every figure.

Nothing here looks at a time or a ratio: on a shared machine they say nothing about correctness. The run writes
into a temporary directory, never into the repository's ``bench/``.
"""

import contextlib
import io
import re

import pytest

from bench import bench
from bench.measure import VARIANTS

SMOKE = [
    "--events", "300",
    "--rounds", "1",
    "--requests", "5",
    "--concurrent", "5",
    "--stream-deltas", "3",
    "--rss-events", "300",
    "--startups", "1",
    "--min-cpu", "0.02",
]  # fmt: skip

COLUMNS = 11
"""variant, events / plugin CPU-s, vs limit, vs floor, vs seed-style, plugin and driver CPU per event, plugin busy,
first byte alone and with streams in flight, RSS growth."""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench")
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        code = bench.main([*SMOKE, "--output", str(output)])
    return code, output, console.getvalue()


def rows(text, first_cell):
    """The cells of each table row whose first cell matches ``first_cell``."""
    found = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first_cell, cells[0]):
            found[cells[0].strip("*")] = cells
    return found


def test_the_run_succeeds_and_writes_its_files(run):
    code, output, printed = run
    assert code == 0
    results = (output / "results.md").read_text(encoding="utf-8")
    assert results in printed, "the console shows what results.md holds"
    assert (output / "throughput.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_every_variant_has_every_figure(run):
    _, output, _ = run
    names = "|".join(re.escape(variant.name) for variant in VARIANTS)
    table = rows((output / "results.md").read_text(encoding="utf-8"), rf"\**({names})\**")
    assert set(table) == {variant.name for variant in VARIANTS}
    for name, cells in table.items():
        assert len(cells) == COLUMNS, name
        assert all(re.search(r"\d", cell) for cell in cells[1:]), (name, cells)
        assert not any("nan" in cell or "inf" in cell for cell in cells), (name, cells)


def test_every_target_has_a_figure_and_a_verdict(run):
    _, output, _ = run
    text = (output / "results.md").read_text(encoding="utf-8")
    targets = rows(text, r"(ndjson|sse|html|json|start-up)\b.*")
    for format_name in ("ndjson", "sse", "html", "json"):
        for figure in ("÷ seed-style", "÷ floor", "time to first byte p50", "streams in flight", "RSS growth"):
            assert any(key.startswith(format_name) and figure in key for key in targets), (format_name, figure)
    for format_name in ("ndjson", "sse", "html"):
        assert any(key.startswith(format_name) and "÷ limit" in key for key in targets), format_name
    assert any(key.startswith("start-up") for key in targets)
    for cells in targets.values():
        assert cells[-1] in ("met", "**not met**"), cells
        assert re.search(r"\d", cells[1]), cells
    assert re.search(r"Start-up\*\* .* App Relay \d+ ms, floor plugin \d+ ms", text)
    for fact in ("**Date**", "**Machine**", "cores (`nproc`)", "Python 3.", "dify-plugin "):
        assert fact in text
