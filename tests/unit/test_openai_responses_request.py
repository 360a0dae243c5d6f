"""A Responses API request read in-process: input items to the core's chat input, and a clear 400 for each field of
the wrong type or size, naming it as ``param``."""

import base64

import pytest

from relay.core.errors import RelayError
from relay.core.files import Remote, Upload
from relay.openai_responses.request import parse_responses_request

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8).decode()


def parse(**fields):
    return parse_responses_request({"model": "support", "input": "hi", **fields})


def refusal(**fields) -> RelayError:
    with pytest.raises(RelayError) as refused:
        parse(**fields)
    assert refused.value.status == 400 and refused.value.code == "invalid_request"
    return refused.value


def test_a_string_is_one_user_message_and_the_defaults_are_openais():
    parsed = parse(input="Hello")
    assert [(m.role, m.text) for m in parsed.chat.messages] == [("user", "Hello")]
    assert (parsed.stream, parsed.store, parsed.metadata, parsed.previous_response_id) == (False, True, {}, None)


def test_instructions_lead_the_history_as_a_system_message_and_developer_is_system():
    history = [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": [{"type": "input_text", "text": "one"}, {"type": "input_text", "text": "two"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "un", "annotations": []}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": None},  # sent back, left out
        {"role": "user", "content": "three"},
    ]
    parsed = parse(input=history, instructions="Be brief.")
    assert [(m.role, m.text) for m in parsed.chat.messages] == [
        ("system", "Be brief."),
        ("system", "Answer in French."),
        ("user", "one\ntwo"),
        ("assistant", "un"),
        ("user", "three"),
    ]


def test_only_the_new_messages_files_go_to_the_app_and_by_their_kind():
    earlier = {"role": "user", "content": [{"type": "input_image", "image_url": "https://img.example/old.png"}]}
    parts = [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
        {"type": "input_image", "image_url": "https://img.example/a.png"},
        {"type": "input_file", "filename": "notes.txt", "file_data": base64.b64encode(b"hello").decode()},
        {"type": "input_file", "file_data": f"data:application/pdf;base64,{base64.b64encode(b'%PDF').decode()}"},
        {"type": "input_file", "file_url": "https://files.example/report.pdf"},
    ]
    parsed = parse(input=[earlier, {"role": "assistant", "content": "ok"}, {"role": "user", "content": parts}])
    assert parsed.chat.messages[0].files == ()
    image, linked, notes, pdf, report = parsed.chat.question.files
    assert image == Upload("image-1.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "image/png")
    assert isinstance(linked, Remote) and linked.url == "https://img.example/a.png"
    assert notes == Upload("notes.txt", b"hello", "text/plain")
    assert pdf == Upload("file-2.pdf", b"%PDF", "application/pdf")
    assert isinstance(report, Remote) and report.url.endswith("report.pdf")


def test_tools_are_accepted_with_a_choice_that_demands_no_call_and_unknown_fields_are_ignored():
    tools = [{"type": "function", "name": "shell", "parameters": {"type": "object"}}]
    for choice in (None, "auto", "none", {"type": "allowed_tools", "mode": "auto", "tools": []}):
        parse(tools=tools, tool_choice=choice, temperature=0.2, reasoning={"effort": "high"}, include=["x"], novel=1)


def test_the_dify_extension_is_the_chat_completions_one():
    parsed = parse(inputs={"topic": "tea"}, query_input="notes", file_input="picture", user="u-1")
    chat = parsed.chat
    assert (dict(chat.inputs), chat.query_input, chat.file_input, chat.user) == (
        {"topic": "tea"},
        "notes",
        "picture",
        "u-1",
    )


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"model": "  "}, "model"),
        ({"input": None}, "input"),
        ({"input": []}, "input"),
        ({"input": 3}, "input"),
        ({"input": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}, "input"),
        ({"input": [{"type": "reasoning", "summary": []}]}, "input"),
        ({"input": ["text"]}, "input[0]"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "function_call_output", "call_id": "1", "output": "x"}]}, "input[0]"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        ({"input": [{"type": "hologram"}]}, "input[0].type"),
        ({"input": [{"role": "user", "content": {"text": "x"}}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": [{"type": "input_text", "text": 3}]}]}, "input[0].content[0]"),
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0]"),
        ({"input": [{"role": "user", "content": [{"type": "video"}]}]}, "input[0].content[0]"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}, "input[0].content[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}]},
            "input[0].content[0]",
        ),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_url": "file:///x"}]}]},
            "input[0].content[0]",
        ),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_data": 1}]}]}, "input[0].content[0]"),
        ({"instructions": ["a"]}, "instructions"),
        ({"stream": "yes"}, "stream"),
        ({"store": 0}, "store"),
        ({"metadata": []}, "metadata"),
        ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "name": "shell"}}, "tool_choice"),
        ({"tool_choice": {"type": "allowed_tools", "mode": "required", "tools": []}}, "tool_choice"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"tool_choice": 1}, "tool_choice"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"previous_response_id": 7}, "previous_response_id"),
        ({"inputs": "topic=tea"}, "inputs"),
        ({"user": 5}, "user"),
        ({"query_input": ["a"]}, "query_input"),
    ],
)
def test_wrong_types_and_sizes_are_400s_naming_the_field(fields, param):
    error = refusal(**fields)
    assert error.request_field == param
    assert error.message.strip()


def test_a_message_of_files_only_is_a_question_the_chat_session_judges():
    parts = [{"type": "input_image", "image_url": "https://img.example/a.png"}]
    parsed = parse(input=[{"role": "user", "content": parts}])
    assert parsed.chat.question.text == "" and len(parsed.chat.question.files) == 1
