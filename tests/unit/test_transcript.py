"""The transcript a reply form carries: read defensively, written within its bounds, shown escaped."""

import html
import json
import re

import pytest

from relay.core.apps import CHAT
from relay.native.formats import PageInfo, render
from relay.native.request import Format
from relay.native.transcript import ELLIPSIS, MAX_BYTES, MAX_TURNS, MIN_SHARE, read_transcript, write_transcript
from tests.unit.conftest import APP_ID


def size(encoded: str) -> int:
    return len(encoded.encode())


def turns(count: int, answer: str = "an answer") -> list[tuple[str, str]]:
    return [(f"question {number}", f"{answer} {number}") for number in range(1, count + 1)]


def test_a_written_transcript_reads_back_the_same():
    written = turns(3, "**bold** and `code`")
    assert read_transcript(write_transcript(written)) == written


def test_only_the_last_twenty_turns_are_kept_both_ways():
    assert [question for question, _ in json.loads(write_transcript(turns(25)))] == [
        f"question {number}" for number in range(6, 26)
    ]
    forged = json.dumps([[f"q{number}", f"a{number}"] for number in range(30)])
    assert read_transcript(forged) == [(f"q{number}", f"a{number}") for number in range(10, 30)]
    assert MAX_TURNS == 20


def test_many_long_turns_fit_in_64_kib_the_recent_ones_kept():
    written = write_transcript(turns(20, "x" * 10_000))
    kept = json.loads(written)
    assert size(written) <= MAX_BYTES == 64 * 1024
    assert kept[-1][0] == "question 20"  # the latest turn is always there
    assert 1 < len(kept) < 20
    assert all(size(json.dumps(answer, ensure_ascii=False)) >= MIN_SHARE - 16 for _, answer in kept)


def test_one_answer_over_64_kib_is_shortened_and_the_earlier_turns_stay():
    history = [*turns(4), ("and now a long one?", "y" * 200_000)]
    written = write_transcript(history)
    kept = json.loads(written)
    assert size(written) <= MAX_BYTES
    assert [question for question, _ in kept] == [question for question, _ in history]
    assert [tuple(turn) for turn in kept[:4]] == turns(4)  # untouched
    assert kept[-1][1].startswith("yyyy") and kept[-1][1].endswith(ELLIPSIS)
    assert size(written) > MAX_BYTES - 64  # shortened to what fits, not to a stub


def test_an_oversized_question_is_shortened_too():
    written = write_transcript([("q" * 100_000, "a" * 100_000)])
    ((question, answer),) = json.loads(written)
    assert size(written) <= MAX_BYTES
    assert question.endswith(ELLIPSIS) and answer.endswith(ELLIPSIS)
    assert len(answer) > len(question)  # the answer is what a reader came back for


def test_multibyte_and_escaped_characters_are_counted_as_encoded():
    for text in ("日本語" * 30_000, '"\\' * 40_000, "\u0001" * 20_000):
        written = write_transcript([("q", "short"), ("q", text)])
        assert size(written) <= MAX_BYTES
        assert json.loads(written)[0] == ["q", "short"]


def test_a_lone_surrogate_does_not_break_the_page():
    written = write_transcript([("q\ud800", "a\udfff")])
    assert written.encode()  # UTF-8 all through
    assert read_transcript(written) == [("q?", "a?")]


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "",
        "not json",
        "{",
        '{"a": 1}',
        '"a string"',
        "[1, 2]",
        '[["only one"]]',
        '[["q", 1]]',
        '[["q", "a", "extra"]]',
        "[" * 100_000,
        json.dumps([["q", "a" * MAX_BYTES * 2]]),
    ],
    ids=[
        "none",
        "number",
        "empty",
        "not json",
        "broken json",
        "an object",
        "a string",
        "numbers",
        "a short turn",
        "a number in a turn",
        "a long turn",
        "deep nesting",
        "too long",
    ],
)
def test_anything_malformed_is_no_transcript(value):
    assert read_transcript(value) == []


def test_malformed_turns_are_left_out_and_the_others_kept():
    assert read_transcript('[["q1", "a1"], "junk", ["q2"], ["q3", "a3"]]') == [("q1", "a1"), ("q3", "a3")]


HOSTILE_QUESTION = '"><script>alert(1)</script>'
HOSTILE_ANSWER = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) <b>raw</b> \"quote' & amp"


def answer_page(transcript: list[tuple[str, str]]) -> str:
    info = PageInfo(CHAT, APP_ID, app_name=None, query="next", transcript=tuple(transcript))
    events = [{"event": "message", "answer": "ok", "conversation_id": "c1"}, {"event": "message_end"}]
    return b"".join(render(Format.HTML, iter(events), info)).decode()


def test_hostile_turns_are_shown_escaped_and_carried_on_intact():
    page = answer_page([(HOSTILE_QUESTION, HOSTILE_ANSWER)])
    earlier = page.split('<section class="transcript"', 1)[1].split("</section></section>", 1)[0]
    assert "<script" not in page and "<img" not in page and "<b>" not in page and 'href="javascript' not in page
    assert "&lt;script&gt;" in earlier and "&lt;img src=x onerror=alert(1)&gt;" in earlier
    (value,) = re.findall(r'<input type="hidden" name="transcript" value="([^"]*)">', page)
    assert read_transcript(html.unescape(value)) == [(HOSTILE_QUESTION, HOSTILE_ANSWER), ("next", "ok")]
