"""The pump between an app's events and the renderer: batches of what is waiting, keep-alives in silence."""

import threading
import time

import pytest

from relay.core.apps import CHAT
from relay.core.pump import DEFAULT_KEEPALIVE, batches, keepalive_seconds
from relay.native.formats import PageInfo, encode
from relay.native.request import Format
from tests.unit.conftest import APP_ID


def test_events_already_waiting_go_out_together_in_order():
    events = [{"event": "message", "answer": str(i)} for i in range(1000)]
    got = list(batches(iter(events), keepalive=5))
    assert [event for batch in got for event in batch] == events
    assert len(got) < len(events)  # the reader thread ran ahead: later events were waiting
    assert all(batch for batch in got)


def test_a_silence_yields_an_empty_batch_then_the_stream_goes_on():
    gate = threading.Event()

    def events():
        yield {"event": "message", "answer": "a"}
        gate.wait(5)
        yield {"event": "message_end"}

    stream = batches(events(), keepalive=0.05)
    assert next(stream) == [{"event": "message", "answer": "a"}]
    assert next(stream) == []  # silence
    gate.set()
    rest = [batch for batch in stream if batch]
    assert rest == [[{"event": "message_end"}]]


def test_a_lone_event_is_not_held_back_for_company():
    gate = threading.Event()
    seen = []

    def events():
        yield {"event": "message", "answer": "first"}
        gate.wait(5)
        yield {"event": "message_end"}

    stream = batches(events(), keepalive=5)
    seen.append(next(stream))  # returns although the next event is still far away
    gate.set()
    assert seen == [[{"event": "message", "answer": "first"}]]
    assert list(stream) == [[{"event": "message_end"}]]


def test_closing_the_body_stops_pulling_and_closes_the_app_call():
    pulled = []
    closed = threading.Event()

    def endless():
        try:
            for i in range(10**9):
                pulled.append(i)
                yield {"event": "message", "answer": str(i)}
                time.sleep(0.001)
        finally:
            closed.set()

    stream = batches(endless(), keepalive=5)
    next(stream)
    stream.close()
    assert closed.wait(5), "the app call was not closed"
    count = len(pulled)
    time.sleep(0.05)
    assert len(pulled) == count


def test_an_exception_from_the_events_reaches_the_reader():
    def broken():
        yield {"event": "message"}
        raise RuntimeError("boom")

    stream = batches(broken(), keepalive=5)
    assert next(stream) == [{"event": "message"}]
    with pytest.raises(RuntimeError, match="boom"):
        list(stream)


@pytest.mark.parametrize(
    ("output", "keepalive"),
    [(Format.NDJSON, b'{"event":"ping"}\n'), (Format.SSE, b": keep-alive\n\n"), (Format.HTML, b"<!-- keep-alive -->")],
)
def test_each_format_fills_a_silence_its_own_way(output, keepalive):
    chunks = list(
        encode(
            output,
            iter([[{"event": "message", "answer": "a"}], [], [{"event": "message_end"}]]),
            PageInfo(CHAT, APP_ID),
        )
    )
    assert keepalive in chunks


@pytest.mark.parametrize(("value", "expected"), [("2.5", 2.5), ("0", DEFAULT_KEEPALIVE), ("x", DEFAULT_KEEPALIVE)])
def test_the_keepalive_interval_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("APP_RELAY_KEEPALIVE_SECONDS", value)
    assert keepalive_seconds() == expected


def test_a_batch_whose_chunk_passes_256_kib_is_sliced():
    events = [{"event": "message", "answer": "x" * 24 * 1024} for _ in range(100)]  # one batch of ~2.4 MB
    page = PageInfo(CHAT, APP_ID)
    chunks = list(encode(Format.NDJSON, iter([events]), page))
    assert max(len(chunk) for chunk in chunks) == 256 * 1024
    joined = b"".join(chunks)
    assert joined.count(b"\n") == 100 and len(chunks) > joined.count(b"\n") / 100
