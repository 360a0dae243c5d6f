"""Input checks word for word as Dify's ``_validate_inputs`` (api/core/app/apps/base_app_generator.py)."""

import pytest

from devkit.daemon.process import DifyError, DifyServerError
from devkit.demo.inputs import Field, validate_inputs

TEXT = Field("text-input", "topic", "Topic", required=True, max_length=5)
PARAGRAPH = Field("paragraph", "notes", "Notes", max_length=10)
SELECT = Field("select", "tone", "Tone", default="calm", options=("calm", "loud"))
NUMBER = Field("number", "count", "Count", required=True)
CHECKBOX = Field("checkbox", "summary", "Summary")
FORM = (TEXT, PARAGRAPH, SELECT, NUMBER, CHECKBOX)


def checked(**inputs):
    return validate_inputs(FORM, {"topic": "tea", "count": 1, **inputs})


def refusal(**inputs) -> str:
    with pytest.raises(DifyError) as refused:
        checked(**inputs)
    assert type(refused.value) is DifyError  # a ValueError in Dify: HTTP 400 invalid_param
    return str(refused.value)


def test_only_a_missing_value_fails_a_required_field():
    with pytest.raises(DifyError, match=r"^topic is required in input form$"):
        validate_inputs(FORM, {"count": 1})
    assert checked(topic="")["topic"] == ""


def test_missing_optional_values_take_the_form_defaults():
    assert checked() == {"topic": "tea", "notes": "", "tone": "calm", "count": 1, "summary": False}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"topic": 42}, "(type 'text-input') topic in input form must be a string"),
        ({"notes": ["a"]}, "(type 'paragraph') notes in input form must be a string"),
        ({"tone": True}, "(type 'select') tone in input form must be a string"),
        ({"tone": "angry"}, "tone in input form must be one of the following: ['calm', 'loud']"),
        ({"topic": "longer"}, "topic in input form must be less than 5 characters"),
        ({"notes": "x" * 11}, "notes in input form must be less than 10 characters"),
        ({"count": "many"}, "count in input form must be a valid number"),
        ({"count": "1.2.3"}, "count in input form must be a valid number"),
    ],
)
def test_refusals_are_worded_as_dify_words_them(inputs, message):
    assert refusal(**inputs) == message


@pytest.mark.parametrize(
    ("sent", "kept"), [(3, 3), (2.5, 2.5), (True, True), ("7", 7), ("7.5", 7.5), (" 8 ", 8), ("", None), ("  ", None)]
)
def test_numbers_accept_numbers_booleans_and_numeric_strings_and_a_blank_counts_as_missing(sent, kept):
    value = checked(count=sent)["count"]
    assert value == kept and type(value) is type(kept)


def test_a_number_of_another_type_is_dify_s_unhandled_type_error():
    with pytest.raises(DifyServerError, match=r"^expected value type int, float or str, got <class 'list'>"):
        checked(count=[1])


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("true", True), (" ON ", True), ("1", True), ("no", False), ("0", False), (1, True), (0, False), (0.0, False)],
)
def test_checkboxes_convert_what_they_recognize(sent, kept):
    assert checked(summary=sent)["summary"] is kept


@pytest.mark.parametrize("sent", ["maybe", 5, "", None])
def test_checkboxes_never_fail(sent):
    expected = False if sent is None else sent  # a missing checkbox takes its default
    assert checked(summary=sent)["summary"] == expected


def test_a_dict_left_in_a_field_is_an_invalid_input_type():
    assert refusal(summary={"a": 1}) == "Invalid input type"


def test_a_list_of_dicts_in_a_checkbox_passes_as_in_dify():
    # Dify's second check filters the lists, then looks for dicts among them: it never fires.
    assert checked(summary=[{"a": 1}])["summary"] == [{"a": 1}]


def test_nul_characters_are_removed_and_unknown_inputs_dropped():
    result = checked(topic="t\x00ea", extra="ignored")
    assert result["topic"] == "tea" and "extra" not in result


# -- files ---------------------------------------------------------------------------------------------------------

DOC = Field("file", "doc", "Doc", file_types=("document", "image"))
SOURCES = Field("file-list", "sources", "Sources", max_length=2, file_types=("custom",), file_extensions=(".md",))
REQUIRED_DOC = Field("file", "brief", "Brief", required=True, file_types=("document",))
FILES_FORM = (DOC, SOURCES)
KNOWN_TOOL_FILE = "0f7e9c1a-5b2d-4c3e-8f4a-6b7c8d9e0f1a"


def tool_file(tool_file_id=KNOWN_TOOL_FILE, kind="document"):
    return {"type": kind, "transfer_method": "tool_file", "tool_file_id": tool_file_id}


def remote(url, kind="document"):
    return {"type": kind, "transfer_method": "remote_url", "url": url}


def files_checked(form=FILES_FORM, **inputs):
    return validate_inputs(form, inputs, tool_files={KNOWN_TOOL_FILE})


def files_refusal(form=FILES_FORM, **inputs) -> str:
    with pytest.raises(DifyError) as refused:
        files_checked(form, **inputs)
    assert type(refused.value) is DifyError
    return str(refused.value)


def test_a_name_given_twice_is_checked_as_its_last_field_is_as_dify_keys_the_form_by_name():
    twice = (Field("checkbox", "doc", "Doc"), DOC)
    assert files_checked(twice, doc=tool_file())["doc"]["tool_file_id"] == KNOWN_TOOL_FILE


@pytest.mark.parametrize("empty", ["", []])
def test_an_optional_file_sent_empty_is_unset(empty):
    assert files_checked(doc=empty, sources=empty) == {"doc": None, "sources": None}


def test_a_required_file_sent_empty_is_not_a_file():
    assert files_refusal((REQUIRED_DOC,), brief="") == "brief in input form must be a file"
    assert files_refusal((REQUIRED_DOC,)) == "brief is required in input form"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"doc": "notes.txt"}, "doc in input form must be a file"),
        ({"doc": [tool_file()]}, "doc in input form must be a file"),
        ({"sources": tool_file()}, "sources in input form must be a list of files"),
        ({"sources": [tool_file(), "x"]}, "sources in input form must be a list of files"),
        ({"sources": [tool_file()] * 3}, "sources in input form must be less than 2 files"),
        ({"doc": {"transfer_method": "carrier_pigeon"}}, "No matching enum found for value 'carrier_pigeon'"),
        ({"doc": {"type": "document", "transfer_method": "remote_url"}}, "Invalid file url"),
        (
            {"doc": tool_file("6d1c0b8e-0000-4000-8000-000000000000")},
            "ToolFile 6d1c0b8e-0000-4000-8000-000000000000 not found",
        ),
        ({"doc": {"transfer_method": "local_file", "upload_file_id": "u"}}, "Invalid upload file"),
        ({"doc": remote("https://files.example/clip.mp4", "video")}, "File validation failed for file: clip.mp4"),
        ({"sources": [remote("https://files.example/notes.md")]}, "File validation failed for file: notes.md"),
        (
            {"sources": [remote("https://files.example/page.html", "custom")]},
            "File validation failed for file: page.html",
        ),
    ],
)
def test_file_refusals_are_worded_as_dify_words_them(inputs, message):
    assert files_refusal(**inputs) == message


def test_files_the_input_allows_are_kept_as_sent():
    sent = {
        "doc": remote("https://files.example/brief.pdf"),
        "sources": [remote("https://files.example/notes.md", "custom"), tool_file(kind="document")],
    }
    assert files_checked(**sent) == sent


def test_a_tool_file_passes_whatever_the_input_allows():
    # Dify made it: its build skips the upload rules (only the id must exist).
    assert files_checked(sources=[tool_file(kind="image")])["sources"] == [tool_file(kind="image")]


def test_a_file_list_drops_mappings_without_a_method_or_a_url():
    assert files_checked(sources=[{"type": "document"}, tool_file()])["sources"] == [tool_file()]
    assert files_checked(sources=[{"transfer_method": "remote_url"}])["sources"] == []
