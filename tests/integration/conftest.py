"""The plugin as Dify runs it: ``python -m main`` in a subprocess, driven over the daemon's stdio protocol."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.daemon.process import PluginProcess
from tests.integration.apps import ScriptedApps

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def apps() -> ScriptedApps:
    return ScriptedApps()


@pytest.fixture(scope="module")
def plugin(apps: ScriptedApps) -> Iterator[PluginProcess]:
    """One plugin process for a whole test module, as in production: it must keep serving request after request."""
    process = PluginProcess(ROOT, apps)
    process.start()
    yield process
    process.stop()
