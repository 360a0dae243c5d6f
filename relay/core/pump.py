"""The pump: reads an app's events on its own thread, so the renderer can notice silence and see a backlog.

Reading Dify's stream blocks until the next event, with no way to wait "at most 15 s". So one thread (a
greenlet once ``dify_plugin`` has monkey-patched ``threading``, which it always has in the plugin process)
pulls events into a bounded queue, and the response body takes them out in *batches*:

* every event that is already waiting goes out with the first one, as one chunk: a busy plugin writes fewer,
  larger messages, and a lone event still goes out the moment it arrives (nothing waits for company);
* when nothing arrives for ``keepalive`` seconds, an empty batch: the renderer writes a keep-alive, so proxies
  that cut idle connections (Cloudflare at 100 s, many load balancers at 60 s) keep the stream open.

When the response body is closed early, the pump stops pulling after the event it is waiting for.
"""

import os
import queue
import threading
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

_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def keepalive_seconds() -> float:
    """``APP_RELAY_KEEPALIVE_SECONDS`` (default 15): how long a silence lasts before a keep-alive is sent."""
    try:
        seconds = float(os.environ.get(KEEPALIVE_ENV, DEFAULT_KEEPALIVE))
    except ValueError:
        return DEFAULT_KEEPALIVE
    return seconds if seconds > 0 else DEFAULT_KEEPALIVE


def batches(events: Iterable[Any], keepalive: float | None = None) -> Iterator[Batch]:
    """``events`` in batches of what is ready at once, and an empty batch after each ``keepalive`` of silence.

    ``events`` must not raise (``relay.core.invoke`` turns every failure into an event); if it does anyway, the
    exception is raised here, in the reader of the batches, where the renderer's guard catches it.
    """
    wait = keepalive_seconds() if keepalive is None else keepalive
    backlog: queue.Queue[Any] = queue.Queue(maxsize=BACKLOG)
    stop = threading.Event()
    reader = threading.Thread(target=_pull, args=(iter(events), backlog, stop), name="relay-pump", daemon=True)
    reader.start()
    try:
        while True:
            try:
                first = backlog.get(timeout=wait)
            except queue.Empty:
                yield []
                continue
            batch: Batch = []
            item = first
            while True:
                if item is _END:
                    if batch:
                        yield batch
                    return
                if isinstance(item, _Failure):
                    if batch:
                        yield batch
                    raise item.exc
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = backlog.get_nowait()
                except queue.Empty:
                    break
            yield batch
    finally:
        stop.set()
        _drain(backlog)  # frees a reader blocked on a full queue, so it can see the stop


def _pull(events: Iterator[Any], backlog: "queue.Queue[Any]", stop: threading.Event) -> None:
    try:
        for event in events:
            if stop.is_set():
                break
            backlog.put(event)
        else:
            backlog.put(_END)
    except BaseException as exc:  # handed to the reader of the batches, which decides what to say
        backlog.put(_Failure(exc))
    finally:
        close = getattr(events, "close", None)
        if stop.is_set() and close is not None:
            close()  # stops the app call's generator: nobody reads its events any more


def _drain(backlog: "queue.Queue[Any]") -> None:
    while True:
        try:
            backlog.get_nowait()
        except queue.Empty:
            return
