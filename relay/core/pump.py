"""The pump: reads an app's events on its own thread, so the renderer can notice silence and see a backlog.

Reading Dify's stream blocks until the next event, with no way to wait "at most 15 s". So one thread (a
greenlet once ``dify_plugin`` has monkey-patched ``threading``, which it always has in the plugin process)
pulls events into a bounded queue, and the response body takes them out in *batches*:

* every event that is already waiting goes out with the first one, as one chunk: a busy plugin writes fewer,
  larger messages, and a lone event still goes out the moment it arrives (nothing waits for company);
* when nothing arrives for ``keepalive`` seconds, an empty batch: the renderer writes a keep-alive, so proxies
  that cut idle connections (Cloudflare at 100 s, many load balancers at 60 s) keep the stream open;
* past a ``deadline``, ``DeadlineReached``: the response must end before the platform cuts it.

The first event can be awaited on its own (``Pump.first``) before any batch, with a patience of its own: the
status of a response is chosen from it, and an app that stays silent longer than that gets its status anyway.

When the response body is closed early, the pump stops pulling after the event it is waiting for.
"""

import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

Batch = list[Any]
"""Events that are ready together; an empty batch means a silence (time for a keep-alive)."""

KEEPALIVE_ENV = "APP_RELAY_KEEPALIVE_SECONDS"
DEFAULT_KEEPALIVE = 15.0
MAX_BATCH = 512
"""Events joined into one chunk at most; the chunk is still sliced to 256 KiB."""
BACKLOG = 4096
"""Events read ahead of the renderer at most: past this, reading Dify waits for the renderer."""

SILENT = object()
"""What ``Pump.first`` returns when nothing arrived in time."""
_END = object()


class Failure:
    """The exception the app's events raised, handed from the reading thread to the reader of the batches."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class DeadlineReached(Exception):
    """The response has used the time it may take; it must end now."""


def keepalive_seconds() -> float:
    """``APP_RELAY_KEEPALIVE_SECONDS`` (default 15): how long a silence lasts before a keep-alive is sent."""
    try:
        seconds = float(os.environ.get(KEEPALIVE_ENV, DEFAULT_KEEPALIVE))
    except ValueError:
        return DEFAULT_KEEPALIVE
    return seconds if seconds > 0 else DEFAULT_KEEPALIVE


class Pump:
    """Pulls ``events`` on a thread of its own into a bounded queue, from the moment it is built."""

    def __init__(self, events: Iterable[Any]) -> None:
        self._backlog: queue.Queue[Any] = queue.Queue(maxsize=BACKLOG)
        self._stop = threading.Event()
        self._held: list[Any] = []
        reader = threading.Thread(target=self._pull, args=(iter(events),), name="relay-pump", daemon=True)
        reader.start()

    def first(self, timeout: float | None) -> Any:
        """The first item (an event, a ``Failure``, or ``None`` for an empty stream) within ``timeout`` seconds
        (``None``: however long it takes), else ``SILENT``. The item stays in place for ``batches``."""
        if not self._held:
            try:
                self._held.append(self._backlog.get(timeout=timeout))
            except queue.Empty:
                return SILENT
        item = self._held[0]
        if item is _END:
            return None
        return item

    def batches(self, keepalive: float | None = None, deadline: float | None = None) -> Iterator[Batch]:
        """What is ready at once, batch by batch; an empty batch after each ``keepalive`` seconds of silence
        (``None``: no keep-alives); ``DeadlineReached`` at the ``time.monotonic()`` ``deadline``. An exception
        the events raised is raised here, after the events before it."""
        try:
            while True:
                item = self._next(keepalive, deadline)
                if item is SILENT:
                    yield []
                    continue
                batch: Batch = []
                if self._backlog.empty():
                    # One yield to the reader (a greenlet in the plugin): events already in the daemon's pipe join
                    # this one, so a burst goes out in few large chunks; nothing waits on a clock.
                    time.sleep(0)
                while True:
                    if item is _END:
                        if batch:
                            yield batch
                        return
                    if isinstance(item, Failure):
                        if batch:
                            yield batch
                        raise item.exc
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._backlog.get_nowait()
                    except queue.Empty:
                        break
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        """Stop pulling: the app call is closed after the event the reader is waiting for."""
        self._stop.set()
        while True:  # frees a reader blocked on a full queue, so it can see the stop
            try:
                self._backlog.get_nowait()
            except queue.Empty:
                return

    def _next(self, keepalive: float | None, deadline: float | None) -> Any:
        if self._held:
            return self._held.pop()
        wait = keepalive
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlineReached
            wait = left if wait is None else min(wait, left)
        try:
            return self._backlog.get(timeout=wait)
        except queue.Empty:
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlineReached from None
            return SILENT

    def _pull(self, events: Iterator[Any]) -> None:
        try:
            for event in events:
                if self._stop.is_set():
                    break
                self._backlog.put(event)
            else:
                self._backlog.put(_END)
        except BaseException as exc:  # handed to the reader of the batches, which decides what to say
            self._backlog.put(Failure(exc))
        finally:
            close = getattr(events, "close", None)
            if self._stop.is_set() and close is not None:
                close()  # stops the app call's generator: nobody reads its events any more


def batches(events: Iterable[Any], keepalive: float | None = None) -> Iterator[Batch]:
    """``events`` in batches of what is ready at once, and an empty batch after each ``keepalive`` of silence
    (default: ``keepalive_seconds()``)."""
    return Pump(events).batches(keepalive_seconds() if keepalive is None else keepalive)
