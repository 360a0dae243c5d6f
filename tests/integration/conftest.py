"""The plugin as Dify runs it: ``python -m main`` in a subprocess, driven over the daemon's stdio protocol."""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from devkit.daemon.process import PluginProcess
from devkit.plugin import PluginResponse
from tests.integration.apps import ScriptedApps

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def apps() -> ScriptedApps:
    return ScriptedApps()


class OpenEndpoint(PluginProcess):
    """The plugin behind an endpoint that serves every app (``allowed_apps: *``) unless a test's settings name
    the apps themselves: most tests are about something else than which apps an endpoint opens."""

    def send_raw(
        self, raw_http_request: bytes, settings: Mapping[str, Any] | None = None, *, timeout: float = 60
    ) -> PluginResponse:
        return super().send_raw(raw_http_request, {"allowed_apps": "*", **(settings or {})}, timeout=timeout)


@pytest.fixture(scope="module")
def plugin(apps: ScriptedApps) -> Iterator[PluginProcess]:
    """One plugin process for a whole test module, as in production: it must keep serving request after request."""
    process = OpenEndpoint(ROOT, apps)
    process.start()
    yield process
    process.stop()
