"""Real Dify's recorded answers (``tests/fixtures/real_dify``), read back case by case.

Each line of the recording is one call made to Dify 1.16.0-rc1 through its inner API as the plugin daemon makes
it: the frames of a ``200`` answer (events in Dify's own key order), or the body of a refusal byte for byte, and
what the plugin received through the daemon. ``RecordedDify`` (``tests/real_dify/player.py``) replays the frames as
templates; the recorded bodies and ``plugin_gets`` are what its tests compare with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDING = Path(__file__).resolve().parents[1] / "fixtures" / "real_dify" / "inner-api-1.16.0-rc1.jsonl"
"""The recording of Dify's API server 1.16.0-rc1 (upstream commit abb9972e19)."""


@dataclass(frozen=True)
class RecordedCase:
    """One call to Dify and its answer, as recorded."""

    name: str
    """What was sent, in words (``"chatflow stream ok"``)."""
    status: int
    content_type: str
    events: tuple[dict[str, Any], ...]
    """The ``data`` of each frame of a ``200`` answer, keys in Dify's order; empty for a refusal."""
    raw: str | None
    """The body of a refusal (or of a plain JSON answer), byte for byte; ``None`` for a stream of frames."""
    plugin_gets: Any
    """What the plugin received: the events, an answer's ``data``, or ``"ERROR <message>"`` in a list."""


def load(path: Path = RECORDING) -> dict[str, RecordedCase]:
    """Every recorded case, by name, in the order they were recorded."""
    cases: dict[str, RecordedCase] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        frames = [json.loads(frame) for frame in record.get("frames") or ()]
        cases[record["case"]] = RecordedCase(
            name=record["case"],
            status=int(record["status"]),
            content_type=str(record.get("ctype") or ""),
            events=tuple(frame["data"] for frame in frames),
            raw=record.get("raw"),
            plugin_gets=record.get("plugin_gets"),
        )
    return cases
