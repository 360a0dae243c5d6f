"""Markdown on the html page: rendered safely, block by block as it streams, then whole."""

import itertools
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from relay.core.apps import CHAT
from relay.native.formats import PageInfo, render
from relay.native.formats.markdown import MarkdownStream, render_markdown, rendered
from relay.native.request import Format
from tests.unit.conftest import APP_ID


def page(deltas: list[str]) -> str:
    events = [{"event": "message", "answer": delta} for delta in deltas] + [{"event": "message_end"}]
    return b"".join(render(Format.HTML, iter(events), PageInfo(CHAT, APP_ID, "q"))).decode()


class Tags(HTMLParser):
    """The start tags of a page as a browser parses them: where markup can act (text between them cannot)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(self.get_starttag_text() or "")


def tags(html: str) -> str:
    return "".join(Tags(html).tags)


def test_common_markdown_is_rendered():
    html = render_markdown(
        "**bold** and `code`\n\n- one\n- two\n\n```py\nx = 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    for tag in ("<strong>bold</strong>", "<code>code</code>", "<li>one</li>", '<code class="language-py">', "<table>"):
        assert tag in html


@pytest.mark.parametrize(
    ("hostile", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("[click](javascript:alert(1))", 'href="javascript'),
        ("[data](data:text/html;base64,PHNjcmlwdD4=)", 'href="data'),
        ("![pic](https://evil.example/pixel.png)", "<img"),
        ('<a href="https://x" onclick="alert(1)">x</a>', 'onclick="'),
    ],
)
def test_hostile_markdown_cannot_execute_or_load_anything(hostile, forbidden):
    assert forbidden not in render_markdown(hostile)
    # As it streams, the text shows escaped only as element content needs (``<`` and ``&``): quotes are text there.
    assert forbidden not in tags(page([hostile]))


def test_images_become_links_and_links_are_web_only():
    html = render_markdown("![a cat](https://img.example/cat.png) [site](https://example.com) [mail](mailto:a@b.c)")
    assert '<a href="https://img.example/cat.png" rel="noreferrer noopener nofollow">a cat</a>' in html
    assert '<a href="https://example.com" rel="noreferrer noopener nofollow">site</a>' in html
    assert 'href="mailto' not in html


def test_a_finished_block_is_rendered_while_the_next_still_streams():
    stream = MarkdownStream()
    pieces = [stream.open(), stream.feed("**Fi"), stream.feed("rst** para"), stream.feed("graph.\n\nSecond")]
    streamed = "".join(pieces)
    assert '<div class="md-block"><p><strong>First</strong> paragraph.</p>' in streamed
    assert streamed.endswith('<span class="md-raw">Second')
    assert "**Fi" in streamed  # the raw text went out first, the moment it arrived
    ending = stream.close()
    assert '<div class="md-final"><p><strong>First</strong> paragraph.</p>\n<p>Second</p>' in ending


def test_a_blank_line_inside_a_code_fence_ends_no_block():
    stream = MarkdownStream()
    streamed = stream.feed("```\nline one\n\nline two\n```\n") + stream.feed("\nafter")
    blocks = re.findall(r'<div class="md-block">(.*?)</div>', streamed, re.DOTALL)
    assert len(blocks) == 1 and "line one\n\nline two" in blocks[0]


def test_the_whole_answer_is_rendered_in_context_at_the_end():
    text = page(["- one\n\n", "- two\n"])
    final = text.split('<div class="md-final">', 1)[1]
    assert final.count("<ul>") == 1  # one list, although it streamed as two blocks


def md_blocks(html: str) -> list[str]:
    """The rendered blocks of a streamed answer, in order (the final twin excluded)."""
    streamed = html.split('<div class="md-final">', 1)[0]
    return re.findall(r'<div class="md-block">(.*?)</div>', streamed, re.DOTALL)


def stream(deltas: list[str]) -> tuple[list[str], str]:
    """What a page shows while ``deltas`` stream (pieces per delta) and at the end."""
    markdown = MarkdownStream()
    pieces = [markdown.feed(delta) for delta in deltas]
    return pieces, markdown.close()


def test_a_code_block_stays_whole_when_its_blank_line_arrives_after_a_cut():
    pieces, ending = stream(["para\n\n```\ncode\n", "\nmore code\n", "```\n\nafter\n\n", "tail"])
    assert md_blocks(pieces[0]) == ["<p>para</p>\n"]
    assert md_blocks(pieces[1]) == []  # the blank line is inside the fence: it ends nothing
    assert md_blocks(pieces[2]) == ["<pre><code>code\n\nmore code\n</code></pre>\n<p>after</p>\n"]
    assert md_blocks(ending) == ["<p>tail</p>\n"]


DOCUMENT = """# Release notes

Here is **what changed**, with `inline code` and a [link](https://dify.ai).

```python
def first():
    return 1


def second():
    return 2
```

| plan | price |
|---|---|
| free | 0 |

~~~
a tilde fence

with a blank line
~~~

> a quote

The end.
"""


def model_tokens(text: str) -> list[str]:
    """Deltas as a model streams them: a word and the space or newlines after it."""
    return re.findall(r"\S+\s*|\s+", text)


@pytest.mark.parametrize(
    "deltas",
    [
        [DOCUMENT],
        model_tokens(DOCUMENT),
        list(DOCUMENT),  # one character at a time: fences and blank lines split across deltas
    ],
    ids=["whole", "model tokens", "characters"],
)
def test_streamed_blocks_add_up_to_the_whole_answer_however_it_is_cut(deltas):
    pieces, ending = stream(deltas)
    blocks = md_blocks("".join(pieces) + ending)
    # Without lists (which join across blank lines), rendering block by block is rendering the whole.
    assert "".join(blocks) == str(render_markdown(DOCUMENT))
    assert all(block.count("<pre>") == block.count("</pre>") for block in blocks)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=40))
def test_any_chunking_renders_the_same_blocks(sizes):
    deltas, position = [], 0
    for size in itertools.cycle(sizes):
        if position >= len(DOCUMENT):
            break
        deltas.append(DOCUMENT[position : position + size])
        position += size
    pieces, ending = stream(deltas)
    assert "".join(md_blocks("".join(pieces) + ending)) == str(render_markdown(DOCUMENT))
    page = MarkdownStream().open() + "".join(pieces) + ending
    assert page.count("<span") == page.count("</span>") and page.count("<div") == page.count("</div>")


class CountingRenderer:
    """Stands in for ``rendered`` inside the stream and counts how much text it is given."""

    def __init__(self) -> None:
        self.characters = 0

    def __call__(self, text: str) -> Markup | None:
        self.characters += len(text)
        return rendered(text)


@pytest.mark.parametrize(
    "deltas",
    [
        ["\n"] * 80_000,  # a model that streams nothing but newlines
        ["word\n\n"] * 4_000,  # a block on every delta
        ["```\n"] + ["code line\n\n"] * 20_000 + ["```\n"],  # blank lines inside one long fence
        ["\n\n".join(f"Paragraph {i} " + "word " * 20 for i in range(4_000))],  # 0.5 MiB in one delta
    ],
    ids=["newlines", "blocks", "long fence", "one big delta"],
)
def test_the_work_grows_with_the_answer_not_with_its_square(monkeypatch, deltas):
    """Each character is scanned once and rendered at most twice (in its block, then in the whole answer).

    Counted, not timed: looking back over the block in progress on every line (what made 80,000 newline deltas
    take seconds) reads the block again and again, and this count would show it.
    """
    renderer = CountingRenderer()
    monkeypatch.setattr("relay.native.formats.markdown.rendered", renderer)
    markdown = MarkdownStream()
    for delta in deltas:
        markdown.feed(delta)
    markdown.close()
    length = sum(map(len, deltas))
    assert markdown.chars_read == length
    assert renderer.characters <= 2 * length


def test_an_answer_past_the_final_render_limit_stays_as_its_blocks():
    from relay.native.formats.markdown import FINAL_RENDER_CHARS

    short, long = MarkdownStream(), MarkdownStream()
    paragraph = "**word** " * 20 + "\n\n"
    short.feed(paragraph)
    assert '<div class="md-final">' in short.close()
    pieces = [long.feed(paragraph) for _ in range(FINAL_RENDER_CHARS // len(paragraph) + 1)]
    ending = long.close()
    assert '<div class="md-final">' not in ending  # its blocks, rendered as it streamed, are the answer
    assert sum(piece.count("<strong>word</strong>") for piece in pieces) >= FINAL_RENDER_CHARS // len(paragraph)
    assert long.text.count("**word**") == 20 * len(pieces)
