"""NDJSON, SSE and JSON renderers, and the slicing that keeps every chunk under 256 KiB."""

import json

from relay.core.apps import CHAT, WORKFLOW
from relay.native.formats import MAX_CHUNK_BYTES, PageInfo, render, sliced
from relay.native.request import Format
from tests.unit.conftest import APP_ID, CHAT_EVENTS


def test_ndjson_is_one_event_per_line_in_order():
    events = [*CHAT_EVENTS, {"event": "message", "answer": "line\nbreak é"}]
    body = b"".join(render(Format.NDJSON, iter(events), PageInfo(CHAT, APP_ID)))
    lines = body.decode().splitlines()
    assert [json.loads(line) for line in lines] == events
    assert body.endswith(b"\n")


def test_each_event_is_its_own_chunk():
    chunks = list(render(Format.NDJSON, iter(CHAT_EVENTS), PageInfo(CHAT, APP_ID)))
    assert len(chunks) == len(CHAT_EVENTS)


def test_sse_uses_the_service_api_framing():
    body = b"".join(render(Format.SSE, iter(CHAT_EVENTS), PageInfo(CHAT, APP_ID))).decode()
    frames = body.split("\n\n")
    assert frames[-1] == ""
    assert [json.loads(frame.removeprefix("data: ")) for frame in frames[:-1]] == list(CHAT_EVENTS)


def test_json_is_the_blocking_result_as_is():
    result = {"workflow_run_id": "r", "task_id": "t", "data": {"status": "succeeded", "outputs": {"a": 1}}}
    body = b"".join(render(Format.JSON, iter([result]), PageInfo(WORKFLOW, APP_ID)))
    assert json.loads(body) == result


def test_large_chunks_are_sliced_and_small_ones_kept_whole():
    big = bytes(range(256)) * (4 * 1024 * 1024 // 256 + 3)
    pieces = list(sliced([b"a", big, b"", b"z"]))
    assert pieces[0] == b"a" and pieces[-1] == b"z"
    assert all(0 < len(piece) <= MAX_CHUNK_BYTES for piece in pieces)
    assert b"".join(pieces[1:-1]) == big


def test_a_4_mb_result_arrives_whole_in_slices():
    result = {"event": "message", "answer": "x" * (4 * 1024 * 1024)}
    for output in (Format.NDJSON, Format.SSE, Format.JSON, Format.HTML):
        chunks = list(render(output, iter([result]), PageInfo(CHAT, APP_ID)))
        assert max(len(chunk) for chunk in chunks) <= MAX_CHUNK_BYTES
        assert b"".join(chunks).count(b"x") >= 4 * 1024 * 1024
