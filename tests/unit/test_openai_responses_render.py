"""The Responses stream in-process: the event sequence, numbered; one id for the whole response; reasoning apart from
the answer; how a response fails, pauses, or waits in silence. Every event of a successful stream is validated
against the ``openai`` SDK's own types."""

import json

import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from relay.core.answer import PAUSED, Answer
from relay.core.apps import CHAT, WORKFLOW
from relay.core.stream import encode
from relay.openai_responses.render import EventEncoder, Head, Output, whole

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)
MESSAGE = {"event": "message", "conversation_id": "conv-1", "message_id": "msg-1"}
END = {**MESSAGE, "event": "message_end", "metadata": {"usage": {"prompt_tokens": 2, "completion_tokens": 3}}}


def events(body: bytes) -> list[object]:
    """Each SSE frame as its data (its ``event:`` line checked against its type); keep-alives as ``"keep-alive"``."""
    found: list[object] = []
    for frame in body.decode().split("\n\n"):
        if frame == ": keep-alive":
            found.append("keep-alive")
        elif frame:
            head, data = frame.split("\n")
            event = json.loads(data.removeprefix("data: "))
            assert head == f"event: {event['type']}"
            found.append(event)
    return found


def run(batches, kind=CHAT):
    finished = []
    made = []

    def make_id(answer: Answer) -> str:
        made.append(answer.conversation_id)
        return "resp_test"

    encoder = EventEncoder(
        Answer(kind),
        Head("support", None, {"k": "v"}, 1_800_000_000),
        Output("abc"),
        make_id=make_id,
        on_finished=lambda document, answer: finished.append(document),
    )
    return events(b"".join(encode(encoder, batches))), finished, made


def frames_of(found):
    return [event for event in found if isinstance(event, dict)]


def test_the_sequence_of_a_plain_answer_numbered_from_zero_under_one_id():
    found, finished, made = run([[{**MESSAGE, "answer": "Hel"}], [{**MESSAGE, "answer": "lo"}, END]])
    frames = frames_of(found)
    assert [frame["type"] for frame in frames] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [frame["sequence_number"] for frame in frames] == list(range(len(frames)))
    for frame in frames:
        EVENTS.validate_python(frame)  # every field the SDK's types require, of their types
    assert [frame["delta"] for frame in frames if frame["type"].endswith(".delta")] == ["Hel", "lo"]
    completed = Response.model_validate(frames[-1]["response"])
    assert completed.id == "resp_test" and completed.status == "completed" and completed.output_text == "Hello"
    assert (completed.usage.input_tokens, completed.usage.output_tokens, completed.usage.total_tokens) == (2, 3, 5)
    assert completed.metadata == {"k": "v"} and completed.tools == []
    assert {frame["response"]["id"] for frame in frames if "response" in frame} == {"resp_test"}
    assert made == ["conv-1"]  # the id was made once, knowing the conversation of the first event
    assert finished == [frames[-1]["response"]]


def test_reasoning_is_an_item_of_its_own_closed_when_the_answer_begins():
    found, finished, _ = run(
        [[{**MESSAGE, "answer": "<think>weigh"}, {**MESSAGE, "answer": "ing</think>The answer."}, END]]
    )
    frames = frames_of(found)
    for frame in frames:
        EVENTS.validate_python(frame)
    kinds = [frame["type"] for frame in frames]
    assert kinds.index("response.reasoning_text.done") < kinds.index("response.output_text.delta")
    reasoning, message = finished[0]["output"]
    assert reasoning["type"] == "reasoning" and reasoning["content"] == [{"type": "reasoning_text", "text": "weighing"}]
    assert message["content"][0]["text"] == "The answer." and message["id"] == "msg_abc"
    assert [frame["output_index"] for frame in frames if frame["type"] == "response.output_item.added"] == [0, 1]


def test_a_silent_app_gets_keep_alives_before_the_response_is_created():
    found, _, _ = run([[], [], [{**MESSAGE, "answer": "late"}, END]])
    assert found[:2] == ["keep-alive", "keep-alive"]
    assert found[2]["type"] == "response.created"


def test_a_failure_after_the_first_byte_ends_the_stream_with_response_failed():
    found, finished, _ = run(
        [
            [{**MESSAGE, "answer": "a"}],
            [{"event": "error", "code": "completion_request_error", "message": "The model failed."}],
            [{**MESSAGE, "answer": "more"}, END],
        ]
    )
    last = found[-1]
    assert last["type"] == "response.failed" and last["sequence_number"] == len(found) - 1
    assert last["response"]["status"] == "failed"
    assert last["response"]["error"] == {"code": "completion_request_error", "message": "The model failed."}
    assert last["response"]["output"][0]["status"] == "incomplete"
    assert not any("more" in json.dumps(event) for event in found)
    assert finished == [last["response"]]


def test_a_renderer_failure_after_the_first_byte_is_a_failed_response_too():
    class Broken(dict):
        def get(self, *args):
            raise RuntimeError("boom")

    found, finished, _ = run([[{**MESSAGE, "answer": "a"}], [Broken(event="message")]])
    assert found[-1]["type"] == "response.failed" and "boom" not in json.dumps(found)
    assert finished[0]["status"] == "failed"


def test_a_run_paused_for_a_person_is_incomplete_and_says_so():
    found, _, _ = run([[{**MESSAGE, "answer": "So far"}, {**MESSAGE, "event": "workflow_paused", "data": {}}]])
    last = found[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "paused"}
    assert last["response"]["output"][0]["content"][0]["text"] == f"So far\n\n{PAUSED}"


def test_a_workflow_answers_with_its_outputs_as_json_text():
    finished_event = {
        "event": "workflow_finished",
        "workflow_run_id": "run-1",
        "data": {"status": "succeeded", "outputs": {"a": 1, "b": "x"}},
    }
    _, finished, made = run(
        [[{"event": "workflow_started", "workflow_run_id": "run-1", "data": {}}, finished_event]], kind=WORKFLOW
    )
    assert made == [None]
    assert json.loads(finished[0]["output"][0]["content"][0]["text"]) == {"a": 1, "b": "x"}


def test_an_empty_stream_is_a_failure_and_not_an_empty_answer():
    found, finished, _ = run([])
    assert [event["type"] for event in found] == ["response.created", "response.in_progress", "response.failed"]
    assert finished[0]["error"]["message"] == "The app returned no events."


def test_moderation_that_rewrote_the_answer_is_what_the_response_ends_with():
    replaced = {**MESSAGE, "event": "message_replace", "answer": "[removed]"}
    found, finished, _ = run([[{**MESSAGE, "answer": "something rude"}, replaced, END]])
    done = next(event for event in found if event["type"] == "response.output_text.done")
    assert done["text"] == "[removed]" and finished[0]["output"][0]["content"][0]["text"] == "[removed]"


def test_reasoning_after_the_answer_began_is_an_item_of_its_own_and_the_answer_stays_one_message():
    answer, output = Answer(CHAT), Output("xyz")
    for text in ("Hello", " <think>wait</think>", " there"):
        output.add(answer.read({**MESSAGE, "answer": text}))
    answer.read(END)
    document = whole("resp_test", Head("support"), answer, output)
    assert [item["type"] for item in document["output"]] == ["message", "reasoning"]
    assert document["output"][0]["content"][0]["text"] == "Hello there"
    assert Response.model_validate(document).output_text == "Hello there"


@pytest.mark.parametrize("usage", [None, {"total_tokens": 9}])
def test_usage_is_always_whole_numbers(usage):
    answer = Answer(CHAT)
    answer.read({**MESSAGE, "answer": "x"})
    answer.read({**MESSAGE, "event": "message_end", "metadata": {"usage": usage}})
    document = whole("resp_test", Head("support"), answer, Output("u"))
    assert document["usage"]["total_tokens"] == (usage or {}).get("total_tokens", 0)
    Response.model_validate(document)
