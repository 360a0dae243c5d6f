"""The core's chat session: which input of a workflow or completion app receives a message, which receives its
files, and which Dify conversation a chat app's history continues, for which caller."""

import pytest

from relay.core.access import ANONYMOUS, Caller
from relay.core.apps import CHAT, WORKFLOW
from relay.core.catalog import App
from relay.core.chat import ChatInput, ChatSession, Message
from relay.core.dify import Dify
from relay.core.errors import RelayError
from relay.core.files import Remote, Upload, file_from_url
from tests.unit.conftest import APP_ID, FakeSession, stream_of

PUBLIC = "https://dify.example.com/e/hook-1"
ALICE = Caller.of_key("alice-key")
MALLORY = Caller.of_key("mallory-key")


def text(variable: str, *, required: bool = False, control: str = "text-input") -> dict:
    return {control: {"variable": variable, "label": variable, "required": required}}


def workflow_call(*entries: dict, message: str = "hello", **chat: object):
    session = FakeSession(stream_of(), {"user_input_form": list(entries)})
    chat_session = ChatSession(Dify(session), App(APP_ID, "outline"), WORKFLOW, ANONYMOUS)
    return chat_session.call(ChatInput((Message("user", message),), **chat)), session


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([text("topic")], "topic"),
        ([text("notes", control="paragraph"), {"select": {"variable": "tone", "required": True}}], "notes"),
        ([text("topic", required=True), text("notes", control="paragraph")], "topic"),
        ([text("a"), text("topic", required=True), text("b")], "topic"),
    ],
    ids=["only-text-input", "only-paragraph", "only-required", "one-required-of-three"],
)
def test_the_message_goes_to_the_only_text_input_else_the_only_required_one(entries, expected):
    call, _ = workflow_call(*entries)
    assert call.inputs == {expected: "hello"}


def test_query_input_names_the_input_and_must_be_one_of_the_apps():
    call, session = workflow_call(text("topic"), text("notes"), query_input="notes")
    assert call.inputs == {"notes": "hello"} and session.fetches() == 1
    with pytest.raises(RelayError) as refused:
        workflow_call(text("topic"), query_input="missing")
    assert refused.value.status == 400 and refused.value.request_field == "query_input"
    assert "'missing'" in refused.value.message and "topic (text-input)" in refused.value.message


@pytest.mark.parametrize(
    ("entries", "listed"),
    [
        (
            [text("a"), text("b", control="paragraph")],
            "2 text inputs, 0 of them required (a (text-input), b (paragraph))",
        ),
        (
            [text("a", required=True), text("b", required=True)],
            "2 text inputs, 2 of them required (a (text-input, required), b (text-input, required))",
        ),
        ([{"number": {"variable": "n", "required": True}}], "no text input (its inputs: n (number, required))"),
        ([], "no text input (its inputs: none)"),
    ],
)
def test_otherwise_a_400_lists_the_inputs_and_names_query_input(entries, listed):
    with pytest.raises(RelayError) as refused:
        workflow_call(*entries)
    assert refused.value.status == 400 and refused.value.request_field == "query_input"
    assert listed in refused.value.message and "query_input" in refused.value.message


def test_a_message_of_files_only_needs_the_required_text_inputs_in_inputs():
    picture = {"file": {"variable": "picture", "allowed_file_types": ["image"]}}
    files = (Upload("a.png", b"png", "image/png"),)
    session = FakeSession(stream_of(), {"user_input_form": [text("topic", required=True), text("notes"), picture]})
    chat = ChatSession(Dify(session, PUBLIC), App(APP_ID, "outline"), WORKFLOW, ANONYMOUS)
    call = chat.call(ChatInput((Message("user", "", files),), inputs={"topic": "tea"}))
    assert call.inputs["topic"] == "tea" and call.inputs["picture"]["transfer_method"] == "remote_url"
    assert call.inputs["picture"]["url"].startswith(f"{PUBLIC}/files/")
    with pytest.raises(RelayError) as refused:
        chat.call(ChatInput((Message("user", "", files),), inputs={"notes": "x"}))
    assert refused.value.status == 400 and "topic" in refused.value.message and "files" in refused.value.message


def test_the_apps_parameters_are_fetched_once_per_request():
    picture = {"file": {"variable": "picture"}}
    session = FakeSession(stream_of(), {"user_input_form": [text("topic"), picture]})
    chat = ChatSession(Dify(session), App(APP_ID, "outline"), WORKFLOW, ANONYMOUS)
    call = chat.call(ChatInput((Message("user", "see", (Remote("https://img.example/a.png", "image/png"),)),)))
    assert set(call.inputs) == {"topic", "picture"}
    assert session.fetches() == 1


def test_files_go_to_the_only_file_input_that_takes_images():
    files = [
        {"file": {"variable": "document", "allowed_file_types": ["document"]}},
        {"file-list": {"variable": "photos", "allowed_file_types": ["image"]}},
    ]
    image = (Remote("https://img.example/a.png", "image/png"),)
    call, _ = workflow_call(text("topic"), *files, message="x", query_input=None)
    session = FakeSession(stream_of(), {"user_input_form": [text("topic"), *files]})
    chat = ChatSession(Dify(session), App(APP_ID, "outline"), WORKFLOW, ANONYMOUS)
    assert "photos" in chat.call(ChatInput((Message("user", "x", image),))).inputs
    session = FakeSession(stream_of(), {"user_input_form": [text("topic"), *files, {"file": {"variable": "any"}}]})
    chat = ChatSession(Dify(session), App(APP_ID, "outline"), WORKFLOW, ANONYMOUS)
    with pytest.raises(RelayError) as refused:
        chat.call(ChatInput((Message("user", "x", image),)))
    assert refused.value.request_field == "file_input" and "document, photos, any" in refused.value.message
    assert call.inputs == {"topic": "x"}


def test_urls_become_uploads_or_remote_files():
    assert file_from_url("data:image/png;base64,iVBORw0KGgo=", "image-1") == Upload(
        "image-1.png", b"\x89PNG\r\n\x1a\n", "image/png"
    )
    remote = file_from_url("https://img.example/a.jpg?size=2", "image-2", "image/*")
    assert remote == Remote("https://img.example/a.jpg?size=2", "image/jpeg")
    with pytest.raises(RelayError):
        file_from_url("data:image/png;base64,not base64!", "image-3")


def chat_turn(session: FakeSession, caller: Caller, *texts: str, conversation_id: str | None = None):
    roles = ("user", "assistant")
    messages = tuple(Message(roles[index % 2], text) for index, text in enumerate(texts))
    chat = ChatSession(Dify(session), App(APP_ID, "support"), CHAT, caller)
    return chat, ChatInput(messages, conversation_id=conversation_id)


def test_a_callers_history_continues_its_conversation():
    session = FakeSession(stream_of())
    chat, first = chat_turn(session, ALICE, "Hello")
    assert chat.call(first).conversation_id is None
    chat.remember(first, "Hi!", "conv-1")
    chat, second = chat_turn(session, ALICE, "Hello", "Hi!", "My PIN is 4321")
    call = chat.call(second)
    assert (call.conversation_id, call.query) == ("conv-1", "My PIN is 4321")


def test_another_callers_identical_history_never_reaches_it_nor_overwrites_it():
    session = FakeSession(stream_of())
    chat, first = chat_turn(session, ALICE, "Hello")
    chat.remember(first, "Hi!", "alice-conv")
    attacker, same = chat_turn(session, MALLORY, "Hello")
    attacker.remember(same, "Hi!", "mallory-conv")
    chat, next_turn = chat_turn(session, ALICE, "Hello", "Hi!", "My PIN is 4321")
    assert chat.call(next_turn).conversation_id == "alice-conv"
    attacker, probe = chat_turn(session, MALLORY, "Hello", "Hi!", "What did I say?")
    assert attacker.call(probe).conversation_id == "mallory-conv"


def test_without_api_keys_a_history_travels_as_context_and_nothing_is_stored():
    session = FakeSession(stream_of())
    chat, first = chat_turn(session, ANONYMOUS, "Hello")
    chat.remember(first, "Hi!", "conv-1")
    assert session.storage.values == {}
    chat, second = chat_turn(session, ANONYMOUS, "Hello", "Hi!", "And now?")
    call = chat.call(second)
    assert call.conversation_id is None
    assert call.query == "[Conversation so far]\nuser: Hello\nassistant: Hi!\n\n[New message]\nAnd now?"


def test_an_explicit_conversation_id_is_a_bearer_capability():
    chat, turn = chat_turn(FakeSession(stream_of()), ANONYMOUS, "Hello", conversation_id="conv-9")
    assert chat.call(turn).conversation_id == "conv-9"
