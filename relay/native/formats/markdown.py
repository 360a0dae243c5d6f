"""Markdown for the html page: CommonMark by markdown-it-py, safe by construction, and rendered as it streams.

Apps answer in markdown almost always. The library escapes every piece of text itself; raw HTML is off, links
are kept only when they are http(s), and images become links (the page's Content-Security-Policy would not load
them anyway, and a link does not leak the reader's address to a third party before they click).

Streaming without JavaScript: text goes into an open ``<span class="md-raw">`` as it arrives; as soon as a block
is complete (a blank line outside a code fence), the raw span is closed and the block's rendered twin follows it.
The stylesheet hides a raw span that has a rendered twin (``.md-raw:has(+ .md-block)``). When the answer ends,
the whole answer is rendered once more, in context (a list split by blank lines is one list again), and that
final twin replaces the streamed blocks (``.md-stream:has(+ .md-final)``).
"""

from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

_FENCES = ("```", "~~~")


def _web_link(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://"))


def _image_as_link(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
    token = tokens[index]
    source = str(token.attrGet("src") or "")
    label = renderer.renderInlineAsText(token.children or [], options, env) or source
    return str(Markup('<a href="{}" rel="noreferrer noopener nofollow">{}</a>').format(source, label))


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.validateLink = _web_link  # type: ignore[method-assign]
    parser.add_render_rule("image", _image_as_link)

    def link_open(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
        tokens[index].attrSet("rel", "noreferrer noopener nofollow")
        return renderer.renderToken(tokens, index, options, env)

    parser.add_render_rule("link_open", link_open)
    return parser


_MARKDOWN = _parser()


def render_markdown(text: str) -> Markup:
    """Safe HTML for ``text``: the library escapes everything, raw HTML included."""
    return Markup(_MARKDOWN.render(text))  # noqa: S704 - markdown-it output with html off is escaped HTML


class MarkdownStream:
    """One answer arriving in deltas, as HTML pieces: raw text at once, each complete block rendered after it."""

    def __init__(self) -> None:
        self.whole: list[str] = []
        self.block = ""
        """Text of the block in progress (what the open raw span shows)."""
        self.scanned = 0
        """Where in ``block`` the next unread line starts."""
        self.fence: str | None = None
        """The marker of the code fence the block is inside, if any: a blank line there ends nothing."""

    def open(self) -> str:
        return '<div class="md-stream"><span class="md-raw">'

    def feed(self, delta: str) -> str:
        """The HTML that shows ``delta``: escaped text, and rendered blocks as they complete."""
        self.whole.append(delta)
        before = len(self.block)
        self.block += delta
        cut = self._last_boundary()
        if cut is None:
            return str(escape(delta))
        done, rest = self.block[:cut], self.block[cut:]
        self.block, self.scanned = rest, 0
        return (
            str(escape(done[before:]))
            + '</span><div class="md-block">'
            + str(render_markdown(done))
            + '</div><span class="md-raw">'
            + str(escape(rest))
        )

    def close(self) -> str:
        """The end of the answer: the stream closed and the whole answer rendered as its final twin."""
        tail = ""
        if self.block.strip():
            tail = f'<div class="md-block">{render_markdown(self.block)}</div>'
        whole = "".join(self.whole)
        return f'</span>{tail}</div><div class="md-final">{render_markdown(whole)}</div>'

    @property
    def text(self) -> str:
        return "".join(self.whole)

    def _last_boundary(self) -> int | None:
        """The end of the last complete block in ``block`` (after a blank line outside a fence), if any."""
        boundary = None
        while True:
            end = self.block.find("\n", self.scanned)
            if end < 0:
                return boundary
            line = self.block[self.scanned : end].strip()
            self.scanned = end + 1
            if self.fence is not None:
                if line.startswith(self.fence):
                    self.fence = None
            elif line.startswith(_FENCES):
                self.fence = line[:3]
            elif not line and self.block[:end].strip():
                boundary = end + 1
