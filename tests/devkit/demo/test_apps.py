"""The demo apps answer with Dify's event shapes and fail with Dify's messages."""

import pytest

from devkit.daemon.process import DifyError
from devkit.demo.apps import (
    AGENT_APP_ID,
    CHATBOT_APP_ID,
    CHATFLOW_APP_ID,
    COMPLETION_APP_ID,
    DEMO_APPS,
    MARKUP_SAMPLE,
    WORKFLOW_APP_ID,
    DemoApps,
)

UNKNOWN_APP_ID = "00000000-0000-4000-8000-000000000000"
CHAT_IDS = (CHATBOT_APP_ID, AGENT_APP_ID, CHATFLOW_APP_ID)
WORKFLOW_INPUTS = {"topic": "Green tea", "tone": "formal", "sections": "2", "notes": "keep it short"}
COMPLETION_INPUTS = {"product": "Solar kettle", "features": "boils water with sunlight"}


@pytest.fixture
def demo() -> DemoApps:
    return DemoApps(token_delay=0)


def run(demo, app_id, *, query=None, inputs=None, mode="streaming", conversation_id=None):
    request = {"app_id": app_id, "inputs": inputs or {}, "response_mode": mode, "user": None}
    if query is not None or conversation_id is not None:
        request.update(query=query, conversation_id=conversation_id)
    return list(demo.invoke_app(request))


def answer(events):
    return "".join(event.get("answer", "") for event in events if event["event"] in ("message", "agent_message"))


def names(events):
    return [event["event"] for event in events]


def assert_usage(usage):
    assert {"prompt_tokens", "completion_tokens", "total_tokens", "total_price", "currency", "latency"} <= set(usage)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["currency"] == "USD"


def assert_message_fields(events, *, conversation):
    for event in events:
        assert isinstance(event["created_at"], int)
        assert event["task_id"] == events[0]["task_id"]
        assert event["message_id"] == events[0]["message_id"]
        assert ("conversation_id" in event) is conversation


def test_the_chatbot_streams_words_then_message_end(demo):
    events = run(demo, CHATBOT_APP_ID, query="How are you?", inputs={"name": "Ada"})
    assert set(names(events[:-1])) == {"message"} and len(events) > 10
    assert events[-1]["event"] == "message_end"
    assert_usage(events[-1]["metadata"]["usage"])
    assert_message_fields(events, conversation=True)
    text = answer(events)
    assert "Hello Ada!" in text and "How are you?" in text and "turn 1" in text


def test_a_conversation_continues_with_its_id(demo):
    first = run(demo, CHATBOT_APP_ID, query="one")
    conversation = first[0]["conversation_id"]
    second = run(demo, CHATBOT_APP_ID, query="two", conversation_id=conversation)
    assert {event["conversation_id"] for event in second} == {conversation}
    assert "turn 2" in answer(second)
    other = run(demo, CHATBOT_APP_ID, query="three")
    assert other[0]["conversation_id"] != conversation
    with pytest.raises(DifyError, match=r"Conversation Not Exists\."):
        run(demo, CHATBOT_APP_ID, query="x", conversation_id="no-such-conversation")
    with pytest.raises(DifyError, match=r"Conversation Not Exists\."):
        run(demo, AGENT_APP_ID, query="x", conversation_id=conversation)


def test_markup_in_a_query_gets_an_answer_with_markup(demo):
    assert MARKUP_SAMPLE in answer(run(demo, CHATBOT_APP_ID, query="Show me some markup"))


def test_fail_ends_the_chat_stream_with_dify_s_error_event(demo):
    events = run(demo, CHATBOT_APP_ID, query="Please fail halfway")
    assert names(events) == ["message"] * 4 + ["error"]
    assert {"status", "code", "message", "conversation_id", "message_id"} <= set(events[-1])


def test_crash_breaks_the_stream_after_some_events(demo):
    stream = demo.invoke_app({"app_id": CHATBOT_APP_ID, "query": "crash now", "response_mode": "streaming"})
    assert next(stream)["event"] == "message"
    with pytest.raises(DifyError, match="broke halfway"):
        list(stream)


def test_the_agent_thinks_uses_a_tool_then_answers(demo):
    events = run(demo, AGENT_APP_ID, query="Umbrella?", inputs={"city": "Lisbon"})
    assert names(events[:2]) == ["agent_thought", "agent_thought"]
    assert set(names(events[2:-1])) == {"agent_message"}
    assert events[-1]["event"] == "message_end"
    announced, used = events[0], events[1]
    assert announced["id"] == used["id"] and announced["position"] == used["position"] == 1
    assert (announced["tool"], announced["thought"], announced["observation"]) == ("", "", "")
    assert used["tool"] == "weather" and "Lisbon" in used["tool_input"] and "Lisbon" in used["observation"]
    assert "Lisbon" in answer(events)
    assert {event["conversation_id"] for event in events} == {events[0]["conversation_id"]}


def test_the_chatflow_runs_nodes_around_its_answer(demo):
    events = run(demo, CHATFLOW_APP_ID, query="Upgrade?", inputs={"plan": "pro"})
    sequence = names(events)
    assert sequence[:4] == ["workflow_started", "node_started", "node_finished", "node_started"]
    assert sequence[-2:] == ["workflow_finished", "message_end"]
    assert "message" in sequence
    assert "pro plan" in answer(events)
    for event in events:
        assert event["conversation_id"] == events[0]["conversation_id"]
    for event in events[:-1]:
        if event["event"] != "message":
            assert event["workflow_run_id"] == events[0]["workflow_run_id"]


def test_the_workflow_streams_nodes_text_chunks_and_its_outputs(demo):
    events = run(demo, WORKFLOW_APP_ID, inputs=WORKFLOW_INPUTS)
    sequence = names(events)
    assert sequence[0] == "workflow_started" and sequence[-1] == "workflow_finished"
    assert sequence.count("node_started") == sequence.count("node_finished") == 3
    assert "text_chunk" in sequence
    for event in events:
        assert set(event) == {"event", "task_id", "workflow_run_id", "data"}
        assert event["workflow_run_id"] == events[0]["workflow_run_id"]
    for event in events:
        if event["event"] == "node_finished":
            assert {
                "id",
                "node_id",
                "node_type",
                "title",
                "index",
                "status",
                "elapsed_time",
                "outputs",
                "error",
            } <= set(event["data"])
    text = "".join(event["data"]["text"] for event in events if event["event"] == "text_chunk")
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded" and finished["error"] is None
    assert finished["outputs"] == {"text": text}
    assert "Green tea" in text and "formal" in text and "keep it short" in text and "2 sections" in text
    assert isinstance(finished["elapsed_time"], float) and finished["total_tokens"] > 0


def test_a_failing_workflow_finishes_failed(demo):
    events = run(demo, WORKFLOW_APP_ID, inputs={"topic": "please fail"})
    failed_node = [event for event in events if event["event"] == "node_finished"][-1]
    assert failed_node["data"]["status"] == "failed" and failed_node["data"]["error"]
    assert events[-1]["data"]["status"] == "failed" and events[-1]["data"]["error"]


def test_the_completion_streams_without_a_conversation(demo):
    events = run(demo, COMPLETION_APP_ID, inputs=COMPLETION_INPUTS)
    assert set(names(events[:-1])) == {"message"} and events[-1]["event"] == "message_end"
    assert_message_fields(events, conversation=False)
    assert "Solar kettle" in answer(events) and "sunlight" in answer(events)


@pytest.mark.parametrize(
    ("app_id", "query", "inputs", "mode"),
    [
        (CHATBOT_APP_ID, "hi", {}, "chat"),
        (CHATFLOW_APP_ID, "hi", {}, "advanced-chat"),
        (COMPLETION_APP_ID, None, COMPLETION_INPUTS, "completion"),
    ],
)
def test_blocking_chat_and_completion_results(demo, app_id, query, inputs, mode):
    (result,) = run(demo, app_id, query=query, inputs=inputs, mode="blocking")
    expected = {"event", "task_id", "id", "message_id", "mode", "answer", "metadata", "created_at"}
    if query is not None:
        expected.add("conversation_id")
    assert set(result) == expected
    assert result["mode"] == mode and result["event"] == "message"
    assert result["answer"] == answer(run(demo, app_id, query=query, inputs=inputs))
    assert_usage(result["metadata"]["usage"])


def test_a_blocking_workflow_result(demo):
    (result,) = run(demo, WORKFLOW_APP_ID, inputs=WORKFLOW_INPUTS, mode="blocking")
    assert set(result) == {"workflow_run_id", "task_id", "data"}
    data = result["data"]
    assert set(data) == {
        "id",
        "workflow_id",
        "status",
        "outputs",
        "error",
        "elapsed_time",
        "total_tokens",
        "total_steps",
        "created_at",
        "finished_at",
    }
    assert data["status"] == "succeeded" and "Green tea" in data["outputs"]["text"]


def test_a_run_error_raises_in_blocking_mode(demo):
    with pytest.raises(DifyError, match="failed halfway"):
        run(demo, CHATBOT_APP_ID, query="fail please", mode="blocking")


def test_the_agent_refuses_blocking_mode(demo):
    with pytest.raises(DifyError, match="Agent Chat App does not support blocking mode"):
        run(demo, AGENT_APP_ID, query="hi", mode="blocking")


def test_an_unknown_app_is_not_found(demo):
    with pytest.raises(DifyError, match=r"^app not found$"):
        run(demo, UNKNOWN_APP_ID, query="hi")
    with pytest.raises(DifyError, match=r"^app not found$"):
        demo.fetch_app(UNKNOWN_APP_ID)


@pytest.mark.parametrize("app_id", CHAT_IDS)
@pytest.mark.parametrize("query", [None, ""])
def test_a_chat_app_without_query_is_missing_query(demo, app_id, query):
    with pytest.raises(DifyError, match=r"^missing query$"):
        run(demo, app_id, query=query)


@pytest.mark.parametrize(
    ("app_id", "inputs"), [(WORKFLOW_APP_ID, WORKFLOW_INPUTS), (COMPLETION_APP_ID, COMPLETION_INPUTS)]
)
def test_workflow_and_completion_apps_run_as_themselves_with_a_query(demo, app_id, inputs):
    with_query = run(demo, app_id, query="ignored", inputs=inputs, conversation_id=None)
    assert names(with_query) == names(run(demo, app_id, inputs=inputs))
    assert all("conversation_id" not in event for event in with_query)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "topic is required in input form"),
        ({"topic": "x", "tone": "angry"}, "tone in input form must be one of the following: "),
        ({"topic": "x", "sections": "many"}, "sections in input form must be a valid number"),
        ({"topic": "x" * 81}, "topic in input form must be less than 80 characters"),
        ({"topic": 42}, "topic in input form must be a string"),
    ],
)
def test_inputs_are_checked_like_dify_checks_them(demo, inputs, message):
    with pytest.raises(DifyError, match=message):
        run(demo, WORKFLOW_APP_ID, inputs=inputs)


def test_words_are_spaced_by_the_token_delay():
    sleeps: list[float] = []
    demo = DemoApps(token_delay=0.25, sleep=sleeps.append)
    events = run(demo, COMPLETION_APP_ID, inputs=COMPLETION_INPUTS)
    assert sleeps == [0.25] * (len(events) - 2)  # between the words, not before the first


def test_fetch_app_returns_dify_s_parameters(demo):
    keys = {
        "opening_statement",
        "suggested_questions",
        "suggested_questions_after_answer",
        "speech_to_text",
        "retriever_resource",
        "annotation_reply",
        "more_like_this",
        "user_input_form",
        "sensitive_word_avoidance",
        "file_upload",
        "system_parameters",
    }
    for app in DEMO_APPS:
        parameters = demo.fetch_app(app.app_id)
        assert keys <= set(parameters)
        for entry in parameters["user_input_form"]:
            assert len(entry) == 1
            (field,) = entry.values()
            assert {"label", "variable", "required", "default"} <= set(field)
            assert ("type" in field) is app.workflow_based


def test_the_chatbot_has_an_opening_statement_and_suggestions(demo):
    parameters = demo.fetch_app(CHATBOT_APP_ID)
    assert parameters["opening_statement"]
    assert "Show me some markup" in parameters["suggested_questions"]


@pytest.mark.parametrize("app_id", [WORKFLOW_APP_ID, COMPLETION_APP_ID])
def test_workflow_and_completion_forms_have_every_field_kind(demo, app_id):
    form = demo.fetch_app(app_id)["user_input_form"]
    kinds = {next(iter(entry)) for entry in form}
    assert {"text-input", "paragraph", "select", "number"} <= kinds
    select = next(entry["select"] for entry in form if "select" in entry)
    assert select["options"] and select["default"] in select["options"]
    text_input = next(entry["text-input"] for entry in form if "text-input" in entry)
    assert text_input["required"] is True and text_input["max_length"]
