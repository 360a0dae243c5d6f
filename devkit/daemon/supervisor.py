"""Keeps one plugin process running, restarting it when it dies, as Dify's daemon restarts a crashed plugin.

A plugin that crashes (a bug, an ``os._exit``, a stdout line over 5 MiB, a kill from outside) should cost the
developer one failed request, not a restart of the devkit. The supervisor notices a dead process either when a
request asks for it or from a watcher thread, says so on the console, and starts a fresh one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from devkit.daemon.process import PluginError, PluginProcess

RETRY_INTERVAL = 5.0
"""The watcher waits this long between two failed restarts, so a plugin that cannot start does not spin."""


class PluginSupervisor:
    """Owns the current ``PluginProcess``; ``process()`` always hands out a live one (or raises)."""

    def __init__(
        self,
        factory: Callable[[], PluginProcess],
        *,
        console: Callable[[str], None] = lambda _line: None,
        start_timeout: float = 60,
        watch_interval: float = 0.5,
    ) -> None:
        self._factory = factory
        self._console = console
        self._start_timeout = start_timeout
        self._watch_interval = watch_interval
        self._lock = threading.Lock()
        self._current: PluginProcess | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._last_attempt = 0.0
        self.restarts = 0
        """How many times a dead plugin was replaced."""

    @property
    def current(self) -> PluginProcess | None:
        """The process last started, alive or not."""
        return self._current

    def start(self) -> dict[str, Any]:
        """Start the first process (raises ``PluginError`` if it cannot start) and the watcher thread."""
        with self._lock:
            process = self._launch()
        self._watcher = threading.Thread(target=self._watch, name="plugin-watcher", daemon=True)
        self._watcher.start()
        assert process.manifest is not None
        return process.manifest

    def process(self) -> PluginProcess:
        """The live plugin process, restarted first if the previous one died."""
        with self._lock:
            current = self._current
            if current is not None and current.alive:
                return current
            if self._stopping.is_set():
                raise PluginError("the devkit is shutting down")
            return self._restart(current)

    def stop(self) -> None:
        """Stop watching and stop the plugin."""
        self._stopping.set()
        with self._lock:
            if self._current is not None:
                self._current.stop()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(self._watch_interval * 4)

    def _watch(self) -> None:
        while not self._stopping.wait(self._watch_interval):
            current = self._current
            if current is None or current.alive or time.monotonic() - self._last_attempt < RETRY_INTERVAL:
                continue
            # A failure is reported by _restart; the next request or round tries again.
            with contextlib.suppress(PluginError):
                self.process()

    def _restart(self, dead: PluginProcess | None) -> PluginProcess:
        if dead is not None:
            self._console(f"the plugin process died (exit code {dead.returncode}); restarting it")
            dead.stop(timeout=2)
        try:
            process = self._launch()
        except PluginError as exc:
            self._console(f"the plugin could not be restarted: {exc}")
            raise
        self.restarts += 1
        self._console(f"plugin restarted (pid {process.pid})")
        return process

    def _launch(self) -> PluginProcess:
        self._last_attempt = time.monotonic()
        process = self._factory()
        process.start(self._start_timeout)
        self._current = process
        return process
