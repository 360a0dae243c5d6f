"""Fixtures of the devkit's tests: a tiny echo plugin run as a real subprocess, and the devkit server around it.

The echo plugin (``tests/devkit/echo_plugin``) answers with what it received, so the tests can check what the
devkit hands a plugin without depending on the relay plugin itself. Processes are started once per session;
tests that kill or stop a plugin start their own.
"""

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devkit.daemon.process import DifyError, PluginProcess
from devkit.daemon.server import DevDaemonServer
from devkit.demo.apps import DemoApps
from devkit.serve import create_server

ECHO_PLUGIN = Path(__file__).parent / "echo_plugin"
ROOT = Path(__file__).resolve().parents[2]
GATED_APP_ID = "9d0e6f1a-2b3c-4d5e-8f70-a1b2c3d4e5f6"
RAW_APP_ID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
"""Streams the events its caller sends as ``inputs.events``, to show what the daemon does to any event."""
SETTINGS = {"greeting": "hello"}


class GatedApps(DemoApps):
    """The demo apps, instant, plus one app that stops after its first event until the test opens ``gate``, and
    one that streams whatever events it is given."""

    def __init__(self) -> None:
        super().__init__(token_delay=0)
        self.gate = threading.Event()
        self.finished = threading.Event()

    def invoke_app(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if request.get("app_id") == GATED_APP_ID:
            return self._gated()
        if request.get("app_id") == RAW_APP_ID:
            return list(request["inputs"]["events"])
        return super().invoke_app(request)

    def _gated(self) -> Iterator[dict[str, Any]]:
        self.finished.clear()
        yield {"event": "message", "answer": "first"}
        if not self.gate.wait(30):
            raise DifyError("the test never opened the gate")
        yield {"event": "message_end", "metadata": {}}
        self.finished.set()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def call(server: DevDaemonServer, method: str, path: str, *, headers=None, body=None, **kwargs) -> Reply:
    """One request over a fresh connection; the whole body is read."""
    connection = http.client.HTTPConnection(server.display_host, server.server_port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {}, **kwargs)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


@pytest.fixture(scope="session")
def apps() -> GatedApps:
    return GatedApps()


@pytest.fixture(scope="session")
def plugin(apps: GatedApps) -> Iterator[PluginProcess]:
    process = PluginProcess(ECHO_PLUGIN, apps)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def console() -> list[str]:
    """Lines the session's server wrote to its console (access log, restarts)."""
    return []


@pytest.fixture(scope="session")
def server(apps: GatedApps, console: list[str]) -> Iterator[DevDaemonServer]:
    instance = create_server(
        ECHO_PLUGIN, apps, settings=SETTINGS, console=console.append, plugin_log=console.append, public_host=None
    )
    instance.serve_in_background()
    yield instance
    instance.close()
