"""Restarts a dead plugin process as Dify's daemon restarts a crashed plugin: a crash (a bug, an ``os._exit``, a stdout
line over 5 MiB, a kill from outside) costs one failed request, not a devkit restart. A request or a watcher notices."""

import contextlib
import threading
import time
from collections.abc import Callable

from devkit.daemon.process import PluginError, PluginProcess

RETRY_INTERVAL = 5.0  # between two failed restarts by the watcher: a plugin that cannot start does not spin
WATCH_INTERVAL = 0.5


class PluginSupervisor:
    """Owns the current ``PluginProcess``; ``process()`` always hands out a live one (or raises)."""

    def __init__(self, factory: Callable[[], PluginProcess], *, console: Callable[[str], None]) -> None:
        self._factory = factory
        self._console = console
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="plugin-watcher", daemon=True)
        self._last_attempt = 0.0
        self.current: PluginProcess | None = None  # the process last started, alive or not

    def start(self) -> None:
        """Start the first process (raises ``PluginError`` if it cannot start) and the watcher thread."""
        with self._lock:
            self._launch()
        self._watcher.start()

    def process(self) -> PluginProcess:
        """The live plugin process, restarted first if the previous one died."""
        with self._lock:
            current = self.current
            if current is not None and current.alive:
                return current
            if self._stopping.is_set():
                raise PluginError("the devkit is shutting down")
            if current is not None:
                self._console(f"the plugin process died (exit code {current.returncode}); restarting it")
                current.stop(timeout=2)
            try:
                process = self._launch()
            except PluginError as exc:
                self._console(f"the plugin could not be restarted: {exc}")
                raise
            self._console(f"plugin restarted (pid {process.pid})")
            return process

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            if self.current is not None:
                self.current.stop()
        if self._watcher.is_alive() and self._watcher is not threading.current_thread():
            self._watcher.join(WATCH_INTERVAL * 4)

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL):
            current = self.current
            if current is not None and not current.alive and time.monotonic() - self._last_attempt >= RETRY_INTERVAL:
                with contextlib.suppress(PluginError):  # reported by process(); the next request or round tries again
                    self.process()

    def _launch(self) -> PluginProcess:
        self._last_attempt = time.monotonic()
        process = self._factory()
        process.start()
        self.current = process
        return process
