"""Which input of a workflow or completion app receives an OpenAI message, and which receives its images."""

import pytest

from relay.core.errors import RelayError
from relay.core.files import Remote, Upload
from relay.openai_compat.inputs import AppForm, image_file
from tests.unit.conftest import APP_ID, FakeSession, stream_of


def text(variable: str, *, required: bool = False, control: str = "text-input") -> dict:
    return {control: {"variable": variable, "label": variable, "required": required}}


def form_of(*entries: dict) -> AppForm:
    session = FakeSession(stream_of(), {"user_input_form": list(entries)})
    return AppForm(session, APP_ID, "outline")


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
    assert form_of(*entries).message_input(None) == expected


def test_query_input_wins_without_asking_dify():
    session = FakeSession(stream_of(), {"user_input_form": [text("topic")]})
    assert AppForm(session, APP_ID, "outline").message_input("notes") == "notes"
    assert session.app.calls == []


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
        form_of(*entries).message_input(None)
    assert refused.value.status == 400 and refused.value.param == "query_input"
    assert listed in refused.value.message and '"query_input"' in refused.value.message


def test_a_message_of_images_only_needs_the_required_text_inputs_in_inputs():
    form = form_of(text("topic", required=True), text("notes"))
    form.check_without_text({"topic": "tea"})
    with pytest.raises(RelayError) as refused:
        form.check_without_text({"notes": "x"})
    assert refused.value.status == 400 and "topic" in refused.value.message and "images" in refused.value.message
    form_of(text("caption")).check_without_text({})  # nothing required: the images alone go


def test_the_form_is_fetched_once_per_request():
    session = FakeSession(stream_of(), {"user_input_form": [text("topic"), {"file": {"variable": "picture"}}]})
    form = AppForm(session, APP_ID, "outline")
    assert (form.message_input(None), form.image_input()) == ("topic", "picture")
    assert [call for call in session.app.calls if call[0] == "fetch_app"] == [("fetch_app", {"app_id": APP_ID})]


def test_images_go_to_the_only_file_input_that_takes_images():
    files = [
        {"file": {"variable": "document", "allowed_file_types": ["document"]}},
        {"file-list": {"variable": "photos", "allowed_file_types": ["image"]}},
    ]
    assert form_of(*files).image_input() == "photos"
    with pytest.raises(RelayError) as refused:
        form_of(*files, {"file": {"variable": "any"}}).image_input()
    assert refused.value.param == "file_input" and "document, photos, any" in refused.value.message


def test_image_urls_become_uploads_or_remote_files():
    assert image_file("data:image/png;base64,iVBORw0KGgo=", 1) == Upload(
        "image-1.png", b"\x89PNG\r\n\x1a\n", "image/png"
    )
    assert image_file("https://img.example/a.jpg?size=2", 2) == Remote("https://img.example/a.jpg?size=2", "image/jpeg")
    with pytest.raises(RelayError):
        image_file("data:image/png;base64,not base64!", 3)
