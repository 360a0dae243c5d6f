"""Pieces of the OpenAI-compatible surface, in-process: reasoning split from the answer, requests checked."""

import pytest

from relay.core.chat import Message
from relay.core.conversations import Turn, with_context
from relay.core.errors import RelayError
from relay.core.files import Remote
from relay.core.think import ThinkSplitter
from relay.openai_compat.request import parse_chat_request


def split(deltas: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    pieces = [splitter.feed(delta) for delta in deltas] + [splitter.flush()]
    return "".join(content for content, _ in pieces), "".join(reasoning for _, reasoning in pieces)


@pytest.mark.parametrize(
    "deltas",
    [
        ["<think>weighing it</think>The answer."],
        ["<thi", "nk>weigh", "ing it</th", "ink>The ", "answer."],
        ["<", "t", "h", "i", "n", "k", ">weighing it<", "/think>", "The answer."],
    ],
)
def test_reasoning_goes_apart_from_the_answer_wherever_the_tags_are_cut(deltas):
    assert split(deltas) == ("The answer.", "weighing it")


def test_text_that_only_looks_like_a_tag_stays_text():
    assert split(["a < b and <thin", " ice"]) == ("a < b and <thin ice", "")


def test_the_new_lines_around_the_tags_are_layout_not_text():
    answer = "<think>\nThe user asked: “hi”.\n\nI will  say so.\n</think>\n\nHello  there.\n"
    for size in range(1, len(answer) + 1):  # cut at every place a model might cut it
        deltas = [answer[at : at + size] for at in range(0, len(answer), size)]
        assert split(deltas) == ("Hello  there.\n", "The user asked: “hi”.\n\nI will  say so."), size


def test_reasoning_that_never_closes_is_still_reasoning():
    assert split(["<think>\nstill weighing ", "it \n"]) == ("", "still weighing it")


def body(**fields):
    return {"model": "support", "messages": [{"role": "user", "content": "hi"}], **fields}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}, "messages"),
        ({"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}, "messages[0]"),
        ({"n": 3}, "n"),
        ({"n": True}, "n"),
        ({"n": 1.0}, "n"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"stream": "yes"}, "stream"),
        ({"inputs": []}, "inputs"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, None),
    ],
)
def test_what_an_app_cannot_honour_is_a_400_naming_the_field(fields, param):
    with pytest.raises(RelayError) as caught:
        parse_chat_request(body(**fields), None)
    assert caught.value.status == 400
    if param:
        assert caught.value.request_field == param


def test_a_last_message_of_images_only_is_a_question_too():
    image = {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}
    request = parse_chat_request(body(messages=[{"role": "user", "content": [image]}]), None)
    question = request.chat.question
    assert question.text == "" and question.files == (Remote("https://img.example/a.png", "image/png"),)
    with pytest.raises(RelayError) as refused:
        parse_chat_request(body(messages=[{"role": "user", "content": [{"type": "text", "text": " "}]}]), None)
    assert refused.value.request_field == "messages"


def test_text_parts_are_joined_and_developer_counts_as_system():
    request = parse_chat_request(
        body(
            messages=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            ]
        ),
        "conv-9",
    )
    assert request.chat.history == (Message("system", "Be brief."),)
    assert request.chat.question.text == "one\ntwo"
    assert request.chat.conversation_id == "conv-9"


def test_context_for_a_new_conversation_lists_what_was_said():
    assert with_context([], "q") == "q"
    text = with_context([Turn("user", "a"), Turn("assistant", "b")], "q")
    assert text == "[Conversation so far]\nuser: a\nassistant: b\n\n[New message]\nq"


def test_a_workflows_infinite_outputs_read_as_null():
    from relay.core.answer import output_text

    assert output_text({"a": float("inf"), "b": [1.5, float("nan")]}) == '{"a":null,"b":[1.5,null]}'
