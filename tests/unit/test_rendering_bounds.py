"""The html pages in proportion to the text they show, whatever its shape: checked by counting, never by timing.

An answer page takes at most four bytes per byte of answer beyond a constant; hostile markdown (runs of brackets,
deep nesting, padded tables, a link definition named again and again) shows as escaped plain text instead of
costing the parser out of proportion; a forged transcript reads back as a page would have written it; the form
page shows a bounded opening statement and bounded suggestions; ordinary markdown renders as markdown-it does.
"""

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it.rules_block import table
from markupsafe import escape

from relay.core.apps import CHAT, WORKFLOW
from relay.core.catalog import App
from relay.core.parameters import AppParameters
from relay.native.form import app_form, render_form_page
from relay.native.formats import PageInfo, render
from relay.native.formats.markdown import MarkdownStream, _parser, render_markdown, rendered
from relay.native.limits import (
    ANSWER_MARKUP_SLACK_BYTES,
    BLOCKS_PER_ANSWER_DOUBLING,
    LINK_COPIES_PER_CHAR,
    LINK_COPY_SLACK,
    MAX_MARKDOWN_NESTING,
    MAX_OPENING_STATEMENT_CHARS,
    MAX_SUGGESTED_QUESTION_CHARS,
    MAX_SUGGESTED_QUESTIONS,
    PAGE_BYTES_PER_ANSWER_BYTE,
    TABLE_CELL_SLACK,
    TABLE_CELLS_PER_CHAR,
)
from relay.native.request import Format
from relay.native.transcript import MAX_BYTES, MAX_TURNS, read_transcript, write_transcript
from tests.unit.conftest import APP_ID
from tests.unit.test_markdown import DOCUMENT, tags

ROOT = Path(__file__).resolve().parents[2]

ANSWER = """## Setting up

Here is a **step-by-step** guide; follow the steps in order.

1. **Install the tools.** You need Python 3.12 and `make`:
   - on macOS: `brew install python@3.12`
   - on Debian: `apt install python3.12-venv`
2. **Configure** the endpoint (see [the docs](https://docs.dify.ai/plugins)).

| option | default | meaning |
|---|---|---|
| `timeout` | 30 s | how long a call may take |
| `retries` | 3 | attempts before giving up |

> **Note:** the `verbose` option logs request bodies, which may hold *personal data*.

```python
def retry(call, attempts=3):
    for attempt in range(attempts):
        if attempt == attempts - 1:
            return call()
```

That's it! Ask again if anything is unclear & I'll help.
"""
"""An ordinary answer: headings, nested lists, a table, a quote, code, links, emphasis."""


def model_tokens(text: str) -> list[str]:
    """Deltas as a model streams them: a word and the space or newlines after it."""
    return re.findall(r"\S+\s*|\s+", text)


def pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def answer_page(deltas: list[str], after: tuple[dict, ...] = (), transcript: tuple = ()) -> bytes:
    info = PageInfo(CHAT, APP_ID, "bounds", query="q", transcript=transcript, restart_href="./bounds")
    events = [{"event": "message", "answer": delta, "conversation_id": "c1"} for delta in deltas]
    return b"".join(render(Format.HTML, iter([*events, *after, {"event": "message_end"}]), info))


FRAME = len(answer_page([]))
"""The page around an answer: its head, stylesheet and reply form."""
CONSTANT = FRAME + ANSWER_MARKUP_SLACK_BYTES + 5 * MAX_BYTES
"""What a page may add whatever its answer: the frame, the slack of the answer's markup, and the transcript the
reply form carries (at most ``MAX_BYTES`` of JSON, each byte at most five once escaped into the attribute)."""


def utf8(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def within_bound(page: bytes, shown: str) -> bool:
    return len(page) <= PAGE_BYTES_PER_ANSWER_BYTE * utf8(shown) + CONSTANT


HOSTILE_ANSWERS = {
    "lt": pieces("<" * 300_000, 1024),
    "ampersands one by one": list("&" * 40_000),
    "ampersands before letters": pieces("&a" * 60_000, 64),
    "quotes": pieces('"' * 200_000, 100),
    "quotes nested in blank lines": pieces(">>>\n\n" * 20_000, 7),
    "tiny paragraphs": pieces("word\n\n" * 20_000, 6),
    "a list of letters": pieces("- a\n" * 30_000, 4),
    "code spans of ampersands": pieces("`&`" * 40_000, 9),
    "brackets": pieces("[" * 120_000, 7),
    "links": pieces("[a](https://example.com/a) " * 5_000, 11),
    "a definition named again and again": pieces(
        "[x]: https://example.com/" + "a" * 3000 + "\n\n" + "[x] " * 20_000, 64
    ),
    "a padded table": pieces("|" + "a|" * 300 + "\n|" + "-|" * 300 + "\n" + ("x" * 60 + "\n") * 400, 32),
    "japanese": pieces("日本語の**答え**。\n\n" * 10_000, 5),
    "lone surrogates": pieces("a\ud800<" * 30_000, 10),
    "ordinary, repeated": model_tokens("\n\n".join([ANSWER] * 200)),
}


@pytest.mark.parametrize("deltas", HOSTILE_ANSWERS.values(), ids=HOSTILE_ANSWERS.keys())
def test_an_answer_page_is_at_most_four_times_its_answer(deltas):
    assert within_bound(answer_page(deltas), "".join(deltas))


def test_replaced_text_counts_toward_the_same_bound():
    streamed = pieces("<" * 100_000, 1000)
    replacement = '"&<' * 50_000
    page = answer_page(streamed, after=({"event": "message_replace", "answer": replacement},))
    assert within_bound(page, "".join(streamed) + replacement)
    assert "&lt;" in page.decode()


def test_a_workflows_streamed_text_is_bounded_too():
    chunks = pieces("<\n\n" * 60_000, 7)
    events = [{"event": "text_chunk", "data": {"text": chunk}} for chunk in chunks]
    events.append({"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {"n": 1}}})
    page = b"".join(render(Format.HTML, iter(events), PageInfo(WORKFLOW, APP_ID)))
    assert within_bound(page, "".join(chunks))


def test_tiny_deltas_get_a_bounded_number_of_rendered_blocks():
    """A block completes on every delta; their twins come in a number that grows with the log of the answer."""
    answer = ">\n\n>\n\n>" * 30_000
    page = answer_page(pieces(answer, 7)).decode()
    spans = page.count('<span class="md-raw">')
    assert 1 < spans <= 1 + BLOCKS_PER_ANSWER_DOUBLING * math.log(len(answer))
    assert page.count('<div class="md-block">') <= spans


def test_an_ordinary_answer_still_streams_rendered_blocks_and_ends_rendered_whole():
    page = answer_page(model_tokens(ANSWER)).decode()
    assert page.count('<div class="md-block">') >= 5
    assert f'<div class="md-final">{render_markdown(ANSWER)}</div>' in page


class RawText(HTMLParser):
    """The text of a page's raw spans, as a browser reads it (character references resolved)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.inside = tag == "span" and ("class", "md-raw") in attrs

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.text.append(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="a1#;&<>\"' \n*[]`", max_size=8), max_size=40))
def test_the_raw_text_reads_back_exactly_as_the_answer_however_it_is_cut(deltas):
    """Only ``<`` and a ``&`` that could start a character reference are escaped (quotes mean themselves in text):
    whatever the cut, a browser reads the raw spans as the answer, with no tag in them."""
    stream = MarkdownStream()
    html = stream.open() + "".join(stream.feed(delta) for delta in deltas) + stream.close()
    assert "".join(RawText(html).text) == "".join(deltas)
    streamed = html.split('<div class="md-final">', 1)[0]
    outside_twins = re.sub(r'<div class="md-block">.*?</div>', "", streamed, flags=re.DOTALL)
    assert set(re.findall(r"<[a-z]+", outside_twins)) <= {"<div", "<span"}


def nesting_depth(html: str) -> int:
    depth = deepest = 0
    for tag in re.finditer(r"<(/?)(ul|ol|li|blockquote|em|strong|s|a)\b", html):
        depth += -1 if tag.group(1) else 1
        deepest = max(deepest, depth)
    return deepest


@pytest.mark.parametrize(
    "text",
    [
        "".join("  " * level + f"- item {level}\n" for level in range(500)),
        "> " * 500 + "deep",
        "- " * 500 + "deep",
        "*" * 1000 + "deep" + "*" * 1000,
        "*a " * 400 + "deep" + " b*" * 400,
        "[" * 500 + "deep" + "](https://example.com)" * 500,
    ],
    ids=["list", "quotes", "inline list", "emphasis runs", "emphasis pairs", "links"],
)
def test_nesting_is_capped_and_nothing_is_dropped(text):
    html = render_markdown(text)
    assert nesting_depth(html) <= MAX_MARKDOWN_NESTING
    assert "deep" in html or "item 499" in html  # markdown-it alone drops the text past its nesting limit


def test_shallow_nesting_still_renders():
    html = render_markdown("".join("  " * level + f"- item {level}\n" for level in range(6)))
    assert html.count("<ul>") == 6 and "item 5" in html


PATHOLOGICAL = {
    "brackets": "[" * 120_000,
    "image brackets": "![" * 60_000,
    "brackets and newlines": "[\n" * 60_000,
    "emphasis": "*a" * 60_000,
    "underscores": "_a" * 60_000,
    "strikethrough": "~~a" * 40_000,
    "short lines": "a\n" * 60_000,
    "list of letters": "- a\n" * 30_000,
    "headings": "# a\n" * 30_000,
    "quotes": "> a\n" * 30_000,
    "javascript links in brackets": "[" * 60_000 + "x](javascript:alert(1))",
    "a bracket before marks": "[" + "<" * 60_000,
    "brackets before marks": "[" * 20 + "a:" * 30_000 + "]",
}


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_markdown_is_shown_as_escaped_plain_text(text):
    """What would cost the parser out of proportion is not parsed: the text is shown whole, escaped."""
    assert rendered(text) is None
    assert render_markdown(text) == f'<p class="plain">{escape(text)}</p>\n'


@pytest.mark.parametrize(
    "text",
    [
        "<" * 100_000,
        "&" * 100_000,
        "&#x" * 30_000,
        "<script>alert(1)</script>" * 5_000,
        "[a](javascript:x)" * 5_000,
        "[<img src=x onerror=alert(1)>" * 10_000,
    ],
)
def test_dense_but_cheap_markup_renders_safely(text):
    html = render_markdown(text)
    assert "<script" not in tags(html) and "<img" not in html and 'href="javascript' not in html


def test_a_padded_table_ends_before_its_cells_outgrow_its_text():
    text = "|" + "a|" * 1000 + "\n|" + "-|" * 1000 + "\n" + ("x" * 60 + "\n") * 50
    html = render_markdown(text)
    assert html.count("<td") <= TABLE_CELLS_PER_CHAR * len(text) + TABLE_CELL_SLACK  # 50,000 cells unbounded
    assert html.count("x" * 60) == 50  # the rows past the table's end still show, as text


def test_a_row_or_two_missing_cells_stay_in_their_table():
    html = render_markdown("| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n| 4 |\n| 5 | 6 |\n")
    assert html.count("<tr>") == 4 and html.count("<td></td>") == 3


def test_a_link_definition_is_not_copied_out_of_proportion():
    definition = "[x]: https://example.com/" + "a" * 4000 + "\n\n"
    hostile = definition + "[x] " * 5_000
    assert len(render_markdown(hostile)) <= 2 * len(hostile)  # rather than 5,000 copies of the address
    assert LINK_COPIES_PER_CHAR * len(hostile) + LINK_COPY_SLACK < 5_000 * 4000
    assert render_markdown(definition + "See [x] and [x].").count('href="https://example.com/aaaa') == 2


def vanilla_markdown_it():
    """The page's parser with markdown-it's own table rule: what rendered ordinary markdown before the bounds."""
    parser = _parser.__wrapped__()
    parser.block.ruler.at("table", table, {"alt": ["paragraph", "reference"]})
    return parser


ORDINARY = {
    "answer": ANSWER,
    "document": DOCUMENT,
    "long answer": "\n\n".join([ANSWER] * 60),
    "readme": (ROOT / "README.md").read_text(encoding="utf-8"),
    "changelog": (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"),
}


@pytest.mark.parametrize("text", ORDINARY.values(), ids=ORDINARY.keys())
def test_ordinary_markdown_renders_exactly_as_before(text):
    assert render_markdown(text) == vanilla_markdown_it().render(text)


def test_a_forged_transcript_reads_back_as_a_page_would_have_written_it():
    for forged in (
        json.dumps([["q", "[" * 120_000]]),
        json.dumps([[f"q{number}", "a" * 6_000] for number in range(20)]),
        json.dumps([["q", "日" * 40_000]], ensure_ascii=False),
        json.dumps([[f"q{number}", "a"] for number in range(MAX_TURNS * 100)]),
    ):
        turns = read_transcript(forged)
        assert turns and len(turns) <= MAX_TURNS
        assert read_transcript(write_transcript(turns)) == turns  # what a genuine page carries on
        assert utf8(json.dumps(turns, ensure_ascii=False, separators=(",", ":"))) <= MAX_BYTES


def test_a_forged_transcript_costs_the_page_what_a_genuine_one_does():
    forged = read_transcript(json.dumps([["q", "[" * 120_000]]))
    genuine = read_transcript(write_transcript(forged))
    page = answer_page(["ok"], transcript=tuple(forged))
    assert page == answer_page(["ok"], transcript=tuple(genuine))
    assert '<p class="plain">[[[[' in page.decode()  # shown as text, not parsed
    assert len(page) <= FRAME + 8 * MAX_BYTES


def form_page(parameters: dict) -> str:
    return render_form_page(app_form(AppParameters.parse(parameters)), CHAT, App(APP_ID), {})


def test_the_opening_statement_is_cut_to_its_limit():
    page = form_page({"opening_statement": "<" * 1_000_000})
    assert MAX_OPENING_STATEMENT_CHARS <= page.count("&lt;") <= MAX_OPENING_STATEMENT_CHARS + 16
    assert "&lt;…" in page
    assert len(page.encode()) <= len(form_page({}).encode()) + 4 * MAX_OPENING_STATEMENT_CHARS + 256
    short = "Hi! Ask me about **plans**."
    assert "<p>Hi! Ask me about <strong>plans</strong>.</p>" in form_page({"opening_statement": short})


def test_suggested_questions_are_bounded_in_number_and_length():
    questions = ["x" * (MAX_SUGGESTED_QUESTION_CHARS + 1)] + [f"Question {number}?" for number in range(100)]
    page = form_page({"suggested_questions": questions})
    assert page.count("formnovalidate") == MAX_SUGGESTED_QUESTIONS
    assert "Question 0?" in page and f"Question {MAX_SUGGESTED_QUESTIONS}?" not in page
    assert "x" * (MAX_SUGGESTED_QUESTION_CHARS + 1) not in page
