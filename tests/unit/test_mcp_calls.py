"""A ``tools/call`` as an SSE stream: what it opens with, which progress it reports, how it ends."""

import json

from relay.core.apps import CHAT
from relay.core.stream import encode
from relay.core.wire import SSE_KEEPALIVE as KEEPALIVE
from relay.mcp_server.calls import CallStream
from relay.mcp_server.modern import finish

EVENTS = [
    {"event": "agent_thought", "tool": "weather"},
    {"event": "agent_message", "answer": "Sunny", "conversation_id": "c"},
    {"event": "agent_message", "answer": " all day", "conversation_id": "c"},
    {"event": "message_end", "conversation_id": "c", "metadata": {}},
]


def body(stream: CallStream, batches) -> bytes:
    return b"".join(encode(stream, batches))


def messages(raw: bytes) -> list[dict]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_a_stream_whose_app_was_silent_opens_with_a_keep_alive():
    raw = body(CallStream(1, CHAT, None, lambda result: result, silent=True), [[], EVENTS])
    assert raw.startswith(KEEPALIVE + KEEPALIVE)  # one for the wait before the stream, one for the silence in it
    assert not body(CallStream(1, CHAT, None, lambda result: result), [EVENTS]).startswith(b":")


def test_progress_flows_only_for_a_call_with_a_token_and_the_result_comes_last():
    with_token = messages(body(CallStream(3, CHAT, "tok", lambda result: result), [EVENTS[:2], EVENTS[2:]]))
    assert [m["params"]["message"] for m in with_token[:-1]] == ["using weather", "answering"]
    assert [m["params"]["progress"] for m in with_token[:-1]] == [1, 2]
    assert with_token[-1]["id"] == 3 and with_token[-1]["result"]["content"][0]["text"] == "Sunny all day"
    without = messages(body(CallStream(4, CHAT, None, lambda result: result), [EVENTS]))
    assert len(without) == 1 and without[0]["id"] == 4


def test_the_result_is_finished_for_its_era_and_a_renderer_fault_ends_as_a_tool_error():
    modern = messages(body(CallStream(5, CHAT, None, lambda result: finish("tools/call", result)), [EVENTS]))
    assert modern[-1]["result"]["resultType"] == "complete"

    class Unreadable(dict):
        def get(self, *args):
            raise RuntimeError("the renderer tripped")

    faulted = messages(body(CallStream(6, CHAT, "tok", lambda result: result), [[EVENTS[0], Unreadable()]]))
    assert faulted[-1]["result"]["isError"] is True
    assert "tripped" not in json.dumps(faulted)
