"""The demo apps answer with Dify's event shapes and fail with Dify's messages."""

import json
import urllib.request
from collections.abc import Iterator

import pytest

from devkit.daemon.process import DifyError, DifyServerError
from devkit.demo.apps import (
    AGENT_APP_ID,
    CHATBOT_APP_ID,
    CHATFLOW_APP_ID,
    COMPLETION_APP_ID,
    DEMO_APPS,
    IMAGE_TOOL_OBSERVATION,
    MARKUP_SAMPLE,
    QUEUE_STOPPED,
    STOPPED_MESSAGE,
    SUN_PICTURE,
    WORKFLOW_APP_ID,
    DemoApps,
)
from devkit.demo.events import DEFAULT_END_USER_ID, QUOTA_EXCEEDED_MESSAGE, app_end_user

UNKNOWN_APP_ID = "00000000-0000-4000-8000-000000000000"
UNKNOWN_CONVERSATION = "00000000-0000-4000-8000-00000000c0de"
CHAT_IDS = (CHATBOT_APP_ID, AGENT_APP_ID, CHATFLOW_APP_ID)
WORKFLOW_INPUTS = {"topic": "Green tea", "tone": "formal", "sections": "2", "notes": "keep it short"}
COMPLETION_INPUTS = {"product": "Solar kettle", "features": "boils water with sunlight"}


@pytest.fixture
def demo() -> Iterator[DemoApps]:
    apps = DemoApps(token_delay=0, completion_fixed=True)  # the demo completion app itself is under test
    yield apps
    apps.files.close()


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
    # Dify's ConversationNotExistsError carries no message: the refusal is an empty invalid_param.
    for app_id, conversation_id in ((CHATBOT_APP_ID, UNKNOWN_CONVERSATION), (AGENT_APP_ID, conversation)):
        with pytest.raises(DifyError) as refused:
            run(demo, app_id, query="x", conversation_id=conversation_id)
        assert type(refused.value) is DifyError and str(refused.value) == ""
        assert refused.value.body() == '{"code":"invalid_param","message":"","status":400}\n'


@pytest.mark.parametrize("app_id", CHAT_IDS)
def test_a_conversation_id_that_is_not_a_uuid_is_dify_s_generic_500(demo, app_id):
    with pytest.raises(DifyServerError) as failed:
        run(demo, app_id, query="x", conversation_id="no-such-conversation")
    assert failed.value.body() == '{"message":"Internal Server Error","code":"unknown","status":500}\n'


def test_the_chatflow_runs_an_unknown_or_foreign_conversation_in_a_new_one(demo):
    chatbot = run(demo, CHATBOT_APP_ID, query="one")[0]["conversation_id"]
    for conversation_id in (UNKNOWN_CONVERSATION, chatbot):
        events = run(demo, CHATFLOW_APP_ID, query="hi", conversation_id=conversation_id)
        assert {event["conversation_id"] for event in events} == {events[0]["conversation_id"]}
        assert events[0]["conversation_id"] not in (conversation_id, chatbot)
        assert events[0]["data"]["inputs"]["sys.dialogue_count"] == 1
    again = run(demo, CHATFLOW_APP_ID, query="again", conversation_id=events[0]["conversation_id"])
    assert again[0]["conversation_id"] == events[0]["conversation_id"]
    assert again[0]["data"]["inputs"]["sys.dialogue_count"] == 2


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
    assert sequence[-2:] == ["message_end", "workflow_finished"]  # measured on Dify 1.16.0-rc1
    assert "message" in sequence
    assert "pro plan" in answer(events)
    for event in events:
        assert event["conversation_id"] == events[0]["conversation_id"]
    for event in events:
        if event["event"] not in ("message", "message_end"):
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


def test_a_model_error_in_blocking_mode_is_dify_s_generic_500(demo):
    with pytest.raises(DifyServerError) as failed:
        run(demo, CHATBOT_APP_ID, query="fail please", mode="blocking")
    assert failed.value.status == 500
    assert failed.value.body() == '{"message":"Internal Server Error","code":"unknown","status":500}\n'


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
    demo = DemoApps(token_delay=0.25, sleep=sleeps.append, completion_fixed=True)
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
            ((kind, field),) = entry.items()
            assert {"label", "variable", "required"} <= set(field)
            if kind in ("file", "file-list"):
                assert {"allowed_file_types", "allowed_file_extensions", "allowed_file_upload_methods"} <= set(field)
            else:
                assert "default" in field
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


# -- triggers and event shapes --------------------------------------------------------------------------------------

WORKFLOW_BASED = pytest.mark.parametrize("app_id", [CHATFLOW_APP_ID, WORKFLOW_APP_ID])


def run_with(demo, app_id, words, *, mode="streaming"):
    """Run an app with trigger words where that app reads them: the query, the workflow's topic, the product."""
    if app_id == WORKFLOW_APP_ID:
        return run(demo, app_id, inputs={"topic": words}, mode=mode)
    if app_id == COMPLETION_APP_ID:
        return run(demo, app_id, inputs={"product": words}, mode=mode)
    return run(demo, app_id, query=words, mode=mode)


def of(events, name):
    return [event for event in events if event["event"] == name]


@pytest.mark.parametrize(
    ("word", "code", "message"),
    [
        ("model-error", "completion_request_error", "[demo] The model provider refused the request, as you asked."),
        ("quota", "provider_quota_exceeded", QUOTA_EXCEEDED_MESSAGE),
        ("no-credentials", "provider_not_initialize", "Model gpt-4o-mini credentials is not initialized."),
        ("unsupported-model", "model_currently_not_support", "Model Currently Not Support"),
    ],
)
@pytest.mark.parametrize("app_id", [CHATBOT_APP_ID, AGENT_APP_ID, COMPLETION_APP_ID])
def test_model_errors_are_one_error_event_streaming_and_the_generic_500_blocking(demo, app_id, word, code, message):
    (event,) = run_with(demo, app_id, f"please {word}")
    assert event["event"] == "error"
    assert (event["code"], event["status"], event["message"]) == (code, 400, message)
    assert "task_id" not in event and "id" not in event
    assert {"message_id", "created_at"} <= set(event)
    assert ("conversation_id" in event) is (app_id != COMPLETION_APP_ID)
    if app_id != AGENT_APP_ID:  # the agent refuses blocking mode before any model runs
        with pytest.raises(DifyServerError):
            run_with(demo, app_id, word, mode="blocking")


def test_easy_ui_message_end_has_null_files_and_annotation_reply(demo):
    for app_id in (CHATBOT_APP_ID, AGENT_APP_ID, COMPLETION_APP_ID):
        end = run_with(demo, app_id, "hello")[-1]
        assert end["event"] == "message_end" and end["files"] is None
        assert end["metadata"]["annotation_reply"] is None and "usage" in end["metadata"]
    (chatflow_end,) = of(run(demo, CHATFLOW_APP_ID, query="hello"), "message_end")
    assert chatflow_end["files"] == [] and chatflow_end["metadata"]["annotation_reply"] is None


@WORKFLOW_BASED
def test_node_events_carry_iteration_and_loop_ids_and_the_run_its_creator(demo, app_id):
    events = run_with(demo, app_id, "iterate loop")
    inner = [event["data"] for event in events if event["event"] in ("node_started", "node_finished")]
    assert all({"iteration_id", "loop_id"} <= set(data) for data in inner)
    in_iteration = [data for data in inner if data["iteration_id"] == "iteration"]
    in_loop = [data for data in inner if data["loop_id"] == "loop"]
    assert len(in_iteration) == len(in_loop) == 6
    names = [event["event"] for event in events]
    for kind in ("iteration", "loop"):
        assert names.count(f"{kind}_started") == names.count(f"{kind}_completed") == 1
        assert names.count(f"{kind}_next") == 3
        assert names.index(f"{kind}_started") < names.index(f"{kind}_next") < names.index(f"{kind}_completed")
    finished = of(events, "workflow_finished")[0]["data"]
    # Measured: the run belongs to the app's own end user, whose session id is the default end user's id.
    assert finished["created_by"] == {"id": app_end_user(app_id), "user": DEFAULT_END_USER_ID}
    assert finished["created_by"]["id"] != DEFAULT_END_USER_ID


def test_a_failed_chatflow_ends_with_run_failed_and_no_message_end(demo):
    events = run(demo, CHATFLOW_APP_ID, query="please fail")
    assert names(events)[-2:] == ["workflow_finished", "error"]
    assert "message_end" not in names(events)
    failed = events[-2]["data"]
    assert failed["status"] == "failed" and failed["error"]
    error = events[-1]
    assert (error["code"], error["status"]) == ("invalid_param", 400)
    assert error["message"] == f"Run failed: {failed['error']}"
    assert set(error) == {"event", "conversation_id", "message_id", "created_at", "code", "status", "message"}
    with pytest.raises(DifyError) as refused:
        run(demo, CHATFLOW_APP_ID, query="please fail", mode="blocking")
    assert type(refused.value) is DifyError and str(refused.value) == error["message"]


def test_a_failed_workflow_has_no_error_event_and_blocking_returns_the_failed_run(demo):
    events = run(demo, WORKFLOW_APP_ID, inputs={"topic": "fail"})
    assert names(events)[-1] == "workflow_finished" and "error" not in names(events)
    (result,) = run(demo, WORKFLOW_APP_ID, inputs={"topic": "fail"}, mode="blocking")
    assert result["data"]["status"] == "failed"


@WORKFLOW_BASED
def test_paused_ends_the_stream_at_a_human_input_form(demo, app_id):
    events = run_with(demo, app_id, "paused")
    assert names(events)[-2:] == ["human_input_required", "workflow_paused"]
    assert "workflow_finished" not in names(events) and "message_end" not in names(events)
    required, paused = events[-2]["data"], events[-1]["data"]
    assert {"form_id", "node_id", "node_title", "form_content", "actions", "form_token", "expiration_time"} <= set(
        required
    )
    assert paused["paused_nodes"] == [required["node_id"]]
    assert paused["reasons"][0]["form_id"] == required["form_id"]


@WORKFLOW_BASED
@pytest.mark.parametrize(
    ("word", "event"), [("form-filled", "human_input_form_filled"), ("form-timeout", "human_input_form_timeout")]
)
def test_answered_or_expired_forms_sit_inside_their_node_and_can_pause_again(demo, app_id, word, event):
    events = run_with(demo, app_id, word)
    sequence = names(events)
    at = sequence.index(event)
    assert sequence[at - 1] == "node_started" and sequence[at + 1] == "node_finished"
    assert sequence[-1] == "workflow_finished"
    again = names(run_with(demo, app_id, f"{word} paused"))
    assert event in again and again[-1] == "workflow_paused"


@WORKFLOW_BASED
def test_stopped_and_partially_succeeded_runs(demo, app_id):
    stopped = run_with(demo, app_id, "stopped")
    data = of(stopped, "workflow_finished")[0]["data"]
    assert (data["status"], data["error"]) == ("stopped", STOPPED_MESSAGE)
    partial = run_with(demo, app_id, "partial")
    data = of(partial, "workflow_finished")[0]["data"]
    assert (data["status"], data["exceptions_count"]) == ("partial-succeeded", 1)
    assert [event["data"]["status"] for event in of(partial, "node_finished")].count("exception") == 1


@WORKFLOW_BASED
def test_retries_agent_logs_and_replaced_text(demo, app_id):
    (retry,) = of(run_with(demo, app_id, "retry"), "node_retry")
    assert retry["data"]["status"] == "retry" and retry["data"]["retry_index"] == 1
    logs = of(run_with(demo, app_id, "agent-log"), "agent_log")
    assert len(logs) == 2 and all("task_id" in log and "node_execution_id" in log["data"] for log in logs)
    replaced = run_with(demo, app_id, "replace")
    if app_id == WORKFLOW_APP_ID:
        assert of(replaced, "text_replace")[0]["data"]["text"]
    else:
        assert of(replaced, "message_replace")[0]["answer"]


@pytest.mark.parametrize("app_id", [CHATBOT_APP_ID, CHATFLOW_APP_ID])
def test_tts_audio_comes_among_the_words_and_ends_after_message_end(demo, app_id):
    events = run(demo, app_id, query="read it aloud: tts")
    audio = of(events, "tts_message")
    assert audio and all(event["audio"] for event in audio)
    ends = ["message_end", "workflow_finished"] if app_id == CHATFLOW_APP_ID else ["message_end"]
    assert names(events)[-2 - len(ends) :] == [*ends, "tts_message", "tts_message_end"]


def test_a_reasoning_answer_starts_with_its_think_block(demo):
    answer = "".join(event["answer"] for event in of(run(demo, CHATBOT_APP_ID, query="think first"), "message"))
    assert answer.startswith("<think>\n") and "</think>\n\n" in answer


@pytest.mark.parametrize("app_id", [CHATBOT_APP_ID, AGENT_APP_ID, CHATFLOW_APP_ID, WORKFLOW_APP_ID, COMPLETION_APP_ID])
def test_truncated_streams_end_without_a_final_event(demo, app_id):
    events = run_with(demo, app_id, "truncated")
    assert events and not {"message_end", "workflow_finished", "error"} & set(names(events))
    if app_id != AGENT_APP_ID:
        with pytest.raises(DifyError, match=f"^{QUEUE_STOPPED}$"):
            run_with(demo, app_id, "truncated", mode="blocking")


def test_silent_keeps_quiet_after_the_first_event():
    sleeps: list[float] = []
    demo = DemoApps(token_delay=0, sleep=sleeps.append, silence=123, completion_fixed=True)
    events = run(demo, COMPLETION_APP_ID, inputs={"product": "silent kettle"})
    assert sleeps == [123] and events[-1]["event"] == "message_end"


def test_crash_works_for_any_app(demo):
    stream = demo.invoke_app({"app_id": WORKFLOW_APP_ID, "inputs": {"topic": "crash"}, "response_mode": "streaming"})
    with pytest.raises(DifyError, match="broke halfway"):
        list(stream)


# -- files the apps make -------------------------------------------------------------------------------------------


def fetched(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_picture_makes_the_agent_announce_its_tool_s_file_as_dify_does(demo):
    events = run(demo, AGENT_APP_ID, query="Show me a picture of the weather", inputs={"city": "Lisbon"})
    assert names(events)[:5] == ["agent_thought"] * 3 + ["message_file", "agent_thought"]
    assert names(events)[-1] == "message_end"
    (announced,) = [event for event in events if event["event"] == "message_file"]
    assert set(announced) == {
        "event", "conversation_id", "message_id", "created_at", "task_id", "id", "type", "belongs_to", "url",
    }  # fmt: skip
    assert (announced["type"], announced["belongs_to"]) == ("image", "assistant")
    assert announced["id"] != announced["message_id"]  # a message file's own id
    step = events[4]
    assert step["tool"] == "weather_map" and step["message_files"] == [announced["id"]]
    assert json.loads(step["observation"]) == {"weather_map": IMAGE_TOOL_OBSERVATION}
    assert fetched(announced["url"]) == (200, "image/png", SUN_PICTURE)
    assert "weather map" in answer(events)


def test_picture_gives_the_workflow_a_cover_file_output_as_dify_serializes_files(demo):
    events = run(demo, WORKFLOW_APP_ID, inputs={"topic": "A picture of tea"})
    cover = next(
        event for event in events if event["event"] == "node_finished" and event["data"]["node_id"] == "cover_image"
    )
    end = next(event for event in events if event["event"] == "node_finished" and event["data"]["node_id"] == "end")
    finished = events[-1]["data"]
    (file,) = finished["outputs"]["cover"]
    stored = demo.files.files[file["related_id"]]
    assert file == {
        "dify_model_identity": "__dify__file__",
        "id": None,
        "tenant_id": stored.tenant_id,
        "type": "image",
        "transfer_method": "tool_file",
        "remote_url": f"/files/tools/{stored.id}.png",
        "related_id": stored.id,
        "filename": "cover.png",
        "extension": ".png",
        "mime_type": "image/png",
        "size": len(SUN_PICTURE),
        "url": file["url"],
    }
    assert cover["data"]["files"] == end["data"]["files"] == finished["files"] == [file]
    assert fetched(file["url"]) == (200, "image/png", SUN_PICTURE)
    blocking = run(demo, WORKFLOW_APP_ID, inputs={"topic": "A picture of tea"}, mode="blocking")
    assert blocking[0]["data"]["outputs"]["cover"][0]["filename"] == "cover.png"


def test_without_picture_no_app_makes_a_file(demo):
    run(demo, AGENT_APP_ID, query="Do I need an umbrella?")
    run(demo, WORKFLOW_APP_ID, inputs={"topic": "Green tea"})
    assert demo.files.files == {}
