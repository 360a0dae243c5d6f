"""Markdown on the html page: rendered safely, block by block as it streams, then whole."""

import re

import pytest

from relay.core.apps import CHAT
from relay.native.formats import PageInfo, render
from relay.native.formats.markdown import MarkdownStream, render_markdown
from relay.native.request import Format
from tests.unit.conftest import APP_ID


def page(deltas: list[str]) -> str:
    events = [{"event": "message", "answer": delta} for delta in deltas] + [{"event": "message_end"}]
    return b"".join(render(Format.HTML, iter(events), PageInfo(CHAT, APP_ID, "q"))).decode()


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
    assert forbidden not in page([hostile])


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
