"""OpenAI's chunk stream, in-process: one id and one conversation for every chunk, the role first, nothing after
an error but ``[DONE]``."""

import json

from relay.core.answer import Answer
from relay.core.apps import CHAT, WORKFLOW
from relay.core.stream import encode
from relay.openai_compat.render import ChunkEncoder, completion

MESSAGE = {"event": "message", "conversation_id": "conv-1", "message_id": "msg-1"}


def frames(body: bytes) -> list[object]:
    """Each SSE frame's data (JSON decoded; ``[DONE]`` as it is); keep-alive comments as ``"keep-alive"``."""
    found: list[object] = []
    for frame in body.decode().split("\n\n"):
        if frame == ": keep-alive":
            found.append("keep-alive")
        elif frame.startswith("data: "):
            data = frame.removeprefix("data: ")
            found.append(data if data == "[DONE]" else json.loads(data))
    return found


def run(batches: list[list[object]], kind=CHAT, include_usage: bool = False) -> tuple[list[object], list[Answer]]:
    finished: list[Answer] = []
    encoder = ChunkEncoder(Answer(kind), "support", include_usage=include_usage, on_finished=finished.append)
    return frames(b"".join(encode(encoder, batches))), finished


def test_every_chunk_has_the_first_events_id_and_conversation():
    events = [
        {**MESSAGE, "answer": "Hel"},
        {**MESSAGE, "answer": "lo", "message_id": "msg-2", "conversation_id": "conv-2"},
        {**MESSAGE, "event": "message_end", "metadata": {"usage": {"total_tokens": 3}}},
    ]
    chunks, finished = run([events[:1], events[1:]], include_usage=True)
    assert chunks[-1] == "[DONE]"
    chunks = chunks[:-1]
    assert {chunk["id"] for chunk in chunks} == {"chatcmpl-msg-1"}
    assert {chunk["conversation_id"] for chunk in chunks} == {"conv-1"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [chunk["choices"][0]["delta"].get("content") for chunk in chunks[1:3]] == ["Hel", "lo"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 3
    assert finished and finished[0].conversation_id == "conv-1"


def test_a_silent_app_gets_keep_alives_before_the_role_chunk():
    chunks, _ = run([[], [], [{**MESSAGE, "answer": "late"}, {**MESSAGE, "event": "message_end"}]])
    assert chunks[:2] == ["keep-alive", "keep-alive"]
    assert chunks[2]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[2]["conversation_id"] == "conv-1" and chunks[2]["id"] == "chatcmpl-msg-1"


def test_an_answer_whose_first_event_has_no_id_keeps_the_one_it_was_given():
    events = [{"event": "message", "answer": "a"}, {**MESSAGE, "answer": "b"}, {**MESSAGE, "event": "message_end"}]
    chunks, _ = run([events])
    ids = {chunk["id"] for chunk in chunks if isinstance(chunk, dict)}
    assert len(ids) == 1 and ids != {"chatcmpl-msg-1"}


def test_after_an_error_frame_only_done_follows():
    events = [
        {**MESSAGE, "answer": "a"},
        {"event": "error", "code": "provider_quota_exceeded", "message": "No quota left."},
        {**MESSAGE, "answer": "more"},
        {**MESSAGE, "event": "message_end"},
    ]
    chunks, finished = run([events])
    assert chunks[-2] == {
        "error": {"message": "No quota left.", "type": "server_error", "param": None, "code": "provider_quota_exceeded"}
    }
    assert chunks[-1] == "[DONE]"
    assert not any("more" in json.dumps(chunk) for chunk in chunks)
    assert finished == []  # a failed answer is not remembered as a conversation's turn


def test_a_failed_workflow_ends_with_its_error():
    events = [
        {"event": "workflow_started", "workflow_run_id": "run-1", "data": {}},
        {"event": "workflow_finished", "workflow_run_id": "run-1", "data": {"status": "failed", "error": "Node X"}},
    ]
    chunks, _ = run([events], kind=WORKFLOW)
    assert chunks[0]["id"] == "chatcmpl-run-1"
    assert chunks[-2]["error"]["message"] == "Node X" and chunks[-1] == "[DONE]"


def test_a_completion_keeps_the_first_id_too():
    answer = Answer(CHAT)
    for event in ({**MESSAGE, "answer": "a"}, {**MESSAGE, "message_id": "msg-9", "event": "message_end"}):
        answer.read(event)
    assert completion(answer, "support")["id"] == "chatcmpl-msg-1"
    assert completion(Answer(CHAT), "support")["id"].startswith("chatcmpl-")
