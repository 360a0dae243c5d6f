"""Tool schemas from Dify's forms, and tool results from finished runs."""

import json

import pytest

from relay.core.answer import Answer
from relay.core.apps import CHAT, COMPLETION, WORKFLOW
from relay.core.parameters import AppParameters
from relay.mcp_server.results import error_result, tool_result
from relay.mcp_server.tools import FILE_SCHEMA, MAX_EMBEDDED_SCHEMA_BYTES, input_schema

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}


def schema(kind, form):
    return input_schema(kind, AppParameters.parse({"user_input_form": form}).inputs)


def schema_of(control, **spec):
    spec = {"variable": "v", "label": "Value", **spec}
    return schema(WORKFLOW, [{control: spec}])["properties"].get("v")


def test_numbers_are_plain_numbers_because_difys_forms_give_them_no_bounds():
    assert schema_of("number", default=3) == {"type": "number", "description": "Value", "default": 3}


@pytest.mark.parametrize(
    ("json_schema", "expected"),
    [
        (PERSON, PERSON),
        (json.dumps(PERSON), PERSON),  # a form may keep the schema as JSON text
        ({**PERSON, "$schema": "http://json-schema.org/draft-07/schema#", "$id": "x"}, PERSON),
        (None, {"type": "object"}),
        ({"type": "array"}, {"type": "object"}),
        ("{not json", {"type": "object"}),
        ({"type": "object", "properties": []}, {"type": "object"}),
        ({"type": "object", "properties": {"a": {"$ref": "#/definitions/a"}}}, {"type": "object"}),
        ({"type": "object", "description": "x" * MAX_EMBEDDED_SCHEMA_BYTES}, {"type": "object"}),
        ({"type": "object", "properties": {"n": {"type": "number", "maximum": float("inf")}}}, {"type": "object"}),
    ],
    ids=["object", "text", "dialect", "none", "array", "bad-text", "bad-properties", "ref", "huge", "infinite"],
)
def test_a_json_object_input_takes_an_object_with_the_apps_schema_when_it_stands_alone(json_schema, expected):
    prop = schema_of("json_object", json_schema=json_schema)
    assert prop == {**expected, "description": "Value"}


def test_the_apps_own_description_of_an_object_follows_the_label():
    prop = schema_of("json_object", json_schema={**PERSON, "description": "Who it is about."})
    assert prop["description"] == "Value. Who it is about."


def test_a_json_object_keeps_an_object_default_only():
    assert schema_of("json_object", default={"a": 1})["default"] == {"a": 1}
    assert "default" not in schema_of("json_object", default='{"a": 1}')


@pytest.mark.parametrize(
    ("control", "extra", "kept"),
    [
        ("text-input", {"default": "hi"}, True),
        ("text-input", {"default": 3}, False),
        ("select", {"options": ["a", "b"], "default": "b"}, True),
        ("select", {"options": ["a", "b"], "default": "c"}, False),
        ("number", {"default": 2.5}, True),
        ("number", {"default": True}, False),
        ("number", {"default": "3"}, False),
        ("checkbox", {"default": False}, True),
        ("checkbox", {"default": "false"}, False),
        ("file", {"default": {"transfer_method": "remote_url"}}, False),
    ],
)
def test_a_default_is_kept_only_when_it_is_a_valid_value(control, extra, kept):
    assert ("default" in schema_of(control, **extra)) is kept


def test_the_label_then_the_description_then_what_a_file_needs_describe_an_input():
    prop = schema_of("file", label="Report.", description="The latest one")
    assert prop["description"] == f"Report. The latest one. {FILE_SCHEMA['description']}"
    assert {key: value for key, value in prop.items() if key != "description"} == {
        key: value for key, value in FILE_SCHEMA.items() if key != "description"
    }
    assert schema_of("paragraph", label="  ", description=None) == {"type": "string"}


def test_hidden_unknown_and_clashing_inputs_are_left_out():
    form = [
        {"text-input": {"variable": "shown", "label": "Shown"}},
        {"text-input": {"variable": "secret", "label": "Secret", "hide": True}},
        {"external_data_tool": {"variable": "weather", "label": "Weather"}},
        {"date-picker": {"variable": "when", "label": "When"}},
        {"text-input": {"variable": "query", "label": "Not the query", "required": True}},
        {"text-input": {"variable": "shown", "label": "Twice"}},
        "not an entry",
        {"text-input": {"variable": ["x"]}},
    ]
    described = schema(CHAT, form)
    assert list(described["properties"]) == ["query", "conversation_id", "shown"]
    assert described["properties"]["query"]["description"] == "The message to the app."
    assert described["properties"]["shown"]["description"] == "Shown"
    assert described["required"] == ["query"]


def answer_of(kind, *events):
    answer = Answer(kind)
    for event in events:
        answer.read(event)
    return answer


def test_a_workflow_answers_with_its_text_then_its_outputs_as_json():
    outputs = {"title": "Tea", "sections": 3}
    answer = answer_of(
        WORKFLOW,
        {"event": "text_chunk", "data": {"text": "An outline"}},
        {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": outputs}},
    )
    result = tool_result(WORKFLOW, answer)
    assert result == {
        "content": [
            {"type": "text", "text": "An outline"},
            {"type": "text", "text": json.dumps(outputs, separators=(",", ":"))},
        ],
        "structuredContent": outputs,
        "isError": False,
    }


def test_a_workflow_whose_answer_is_its_json_says_it_once():
    outputs = {"a": 1, "b": "two"}
    answer = answer_of(WORKFLOW, {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": outputs}})
    assert tool_result(WORKFLOW, answer)["content"] == [
        {"type": "text", "text": json.dumps(outputs, separators=(",", ":"))}
    ]


def test_a_chat_answer_comes_with_its_conversation_and_a_completion_with_its_text_alone():
    chat = answer_of(
        CHAT,
        {"event": "message", "answer": "Hello", "conversation_id": "c-1"},
        {"event": "message_end", "conversation_id": "c-1", "metadata": {}},
    )
    assert tool_result(CHAT, chat) == {
        "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": '{"conversation_id":"c-1"}'}],
        "structuredContent": {"conversation_id": "c-1"},
        "isError": False,
    }
    completion = answer_of(COMPLETION, {"event": "message", "answer": "Done"}, {"event": "message_end"})
    assert tool_result(COMPLETION, completion) == {"content": [{"type": "text", "text": "Done"}], "isError": False}


def test_a_failed_run_is_a_tool_error_with_difys_message():
    failed = answer_of(WORKFLOW, {"event": "workflow_finished", "data": {"status": "failed", "error": "LLM timed out"}})
    assert (
        tool_result(WORKFLOW, failed)
        == error_result("LLM timed out")
        == {
            "content": [{"type": "text", "text": "LLM timed out"}],
            "isError": True,
        }
    )
