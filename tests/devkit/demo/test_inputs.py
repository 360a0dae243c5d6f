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
    assert refusal(summary={"a": 1}) == "Invalid input type for ['summary']"
    assert refusal(summary=[{"a": 1}]) == "Invalid input type for ['summary']"


def test_nul_characters_are_removed_and_unknown_inputs_dropped():
    result = checked(topic="t\x00ea", extra="ignored")
    assert result["topic"] == "tea" and "extra" not in result
