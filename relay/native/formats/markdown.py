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

import io
from functools import cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_FENCES = ("```", "~~~")


def _web_link(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://"))


def _image_as_link(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
    token = tokens[index]
    source = str(token.attrGet("src") or "")
    label = renderer.renderInlineAsText(token.children or [], options, env) or source
    return str(Markup('<a href="{}" rel="noreferrer noopener nofollow">{}</a>').format(source, label))


@cache
def _parser() -> "MarkdownIt":
    """Built on first use: only html pages need it, and importing markdown-it costs a plugin's start-up 50 ms."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.validateLink = _web_link  # type: ignore[method-assign]
    parser.add_render_rule("image", _image_as_link)

    def link_open(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
        tokens[index].attrSet("rel", "noreferrer noopener nofollow")
        return renderer.renderToken(tokens, index, options, env)

    parser.add_render_rule("link_open", link_open)
    return parser


def render_markdown(text: str) -> Markup:
    """Safe HTML for ``text``: the library escapes everything, raw HTML included."""
    return Markup(_parser().render(text))  # noqa: S704 - markdown-it output with html off is escaped HTML


class GrowingText:
    """A text that grows by small pieces, kept compact: as UTF-8 (a Python string with one emoji in it takes four
    bytes per character), and as one buffer (an answer of a hundred thousand deltas would be as many objects)."""

    def __init__(self, start: str = "") -> None:
        self._buffer = io.BytesIO()
        self.length = 0
        """Characters so far."""
        self.write(start)

    def write(self, piece: str) -> None:
        self._buffer.write(piece.encode("utf-8", "surrogatepass"))
        self.length += len(piece)

    def value(self) -> str:
        return self._buffer.getvalue().decode("utf-8", "surrogatepass")


FINAL_RENDER_CHARS = 64 * 1024
"""Longest answer rendered whole again at its end: rendering costs about 50 bytes of memory per character of
answer while it runs (20 MB for 400 KB), and blocks rendered one by one already show a longer answer well."""


class MarkdownStream:
    """One answer arriving in deltas, as HTML pieces: raw text at once, each complete block rendered after it.

    Linear in the answer's length, whatever its shape: every character is read once as it arrives (the block in
    progress is kept as pieces and joined only when it completes), and a line is classified from its own text
    and two flags (inside a fence, text since the last block ended), never by looking back over the block.
    """

    def __init__(self) -> None:
        self.whole = GrowingText()
        """The answer so far, kept as one text (not as its deltas: a long answer has a hundred thousand)."""
        self.pending: list[str] = []
        """The block in progress, in pieces: text after the last complete block (what the open raw span shows)."""
        self.line: list[str] = []
        """The line in progress (text after the last newline), in pieces."""
        self.fence: str | None = None
        """The marker of the code fence the block is inside, if any: a blank line there ends nothing."""
        self.has_text = False
        """Whether the block in progress has a non-blank line: a blank line ends a block only after text."""
        self.chars_read = 0
        """How many characters the block scanner has read: each once, so never more than the answer's length."""

    def open(self) -> str:
        return '<div class="md-stream"><span class="md-raw">'

    def feed(self, delta: str) -> str:
        """The HTML that shows ``delta``: escaped text, and rendered blocks as they complete."""
        self.whole.write(delta)
        cut = self._last_boundary(delta)
        if cut is None:
            self.pending.append(delta)
            return str(escape(delta))
        done = "".join([*self.pending, delta[:cut]])
        rest = delta[cut:]
        self.pending = [rest] if rest else []
        return (
            str(escape(delta[:cut]))
            + '</span><div class="md-block">'
            + str(render_markdown(done))
            + '</div><span class="md-raw">'
            + str(escape(rest))
        )

    def close(self) -> str:
        """The end of the answer: the stream closed and the whole answer rendered as its final twin, when it is no
        longer than ``FINAL_RENDER_CHARS``; a longer one stays as its blocks were rendered while it streamed."""
        tail = ""
        block = "".join(self.pending)
        if block.strip():
            tail = f'<div class="md-block">{render_markdown(block)}</div>'
        whole = self.whole.value() if self.whole.length <= FINAL_RENDER_CHARS else None
        final = f'<div class="md-final">{render_markdown(whole)}</div>' if whole is not None else ""
        return f"</span>{tail}</div>{final}"

    @property
    def text(self) -> str:
        return self.whole.value()

    def _last_boundary(self, delta: str) -> int | None:
        """Where in ``delta`` the last block it completes ends (after a blank line outside a fence), if any."""
        boundary = None
        start = 0
        while (end := delta.find("\n", start)) >= 0:
            self.line.append(delta[start:end])
            line = "".join(self.line).strip()
            self.line = []
            self.chars_read += end + 1 - start
            start = end + 1
            if self.fence is not None:
                if line.startswith(self.fence):
                    self.fence = None
            elif line.startswith(_FENCES):
                self.fence = line[:3]
            elif not line and self.has_text:
                boundary, self.has_text = start, False
                continue
            self.has_text = self.has_text or bool(line)
        if start < len(delta):
            self.line.append(delta[start:])
            self.chars_read += len(delta) - start
        return boundary
