"""Marks the slow tests in one place: ``pytest -m "not slow"`` runs the rest in well under a minute.

Slow means seconds per test, by nature: copies of the repository, SDK probes of packages, generated requests,
a browser, load, the bench's own smoke run.
"""

from pathlib import Path

import pytest

SLOW = (
    "tests/devkit/test_scaffold.py",
    "tests/devkit/packaging/",
    "tests/devkit/test_serve_run.py",
    "tests/fuzz/",
    "tests/browser/",
    "tests/integration/test_load.py",
    "tests/bench/",
)
ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.relative_to(ROOT).as_posix() if item.path.is_relative_to(ROOT) else ""
        if relative.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
