"""Markdown for the html page: CommonMark by markdown-it-py, safe by construction, rendered as it streams, and
bounded whatever the text.

Apps answer in markdown almost always. The library escapes every piece of text itself; raw HTML is off, links
are kept only when they are http(s), and images become links (the page's Content-Security-Policy would not load
them anyway, and a link does not leak the reader's address to a third party before they click).

Bounded: markdown-it-py is linear, but some texts cost it a hundred times what prose does per character (short
lines, runs of ``[`` or of emphasis delimiters, marks after a ``[`` that never closes), pad a table's short rows
to its header's width, copy a link definition's address into every link that names it, or nest deeper than it
parses (it drops the rest). Such a text is shown as plain text, escaped (``rendered`` says ``None``); the bounds
are in ``relay.native.limits``.

Streaming without JavaScript: text goes into an open ``<span class="md-raw">`` as it arrives; once a block is
complete (a blank line outside a code fence), the raw span is closed and the block's rendered twin follows it.
The stylesheet hides a raw span that has a rendered twin (``.md-raw:has(+ .md-block)``). When the answer ends,
the whole answer is rendered once more, in context (a list split by blank lines is one list again), and that
final twin replaces the streamed blocks (``.md-stream:has(+ .md-final)``). Twins go out only while they fit in
the page's budget (``MarkupBudget``); a text that does not get one stays shown as it arrived.
"""

import io
import re
from collections.abc import Callable
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from relay.native.limits import (
    ANSWER_MARKUP_SLACK_BYTES,
    BLOCKS_PER_ANSWER_DOUBLING,
    LINK_COPIES_PER_CHAR,
    LINK_COPY_SLACK,
    LINK_LOOKAHEAD_PER_CHAR,
    LINK_LOOKAHEAD_SLACK,
    MARKDOWN_WORK_PER_CHAR,
    MARKDOWN_WORK_SLACK,
    MAX_MARKDOWN_NESTING,
    PAGE_BYTES_PER_ANSWER_BYTE,
    TABLE_CELL_SLACK,
    TABLE_CELLS_PER_CHAR,
)

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock
    from markdown_it.rules_inline import StateInline
    from markdown_it.token import Token

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
    from markdown_it.rules_block import table

    options = {"html": False, "linkify": False, "typographer": False, "maxNesting": MAX_MARKDOWN_NESTING}
    parser = MarkdownIt("commonmark", options)
    parser.enable(["table", "strikethrough"])
    parser.validateLink = _web_link  # type: ignore[method-assign]
    parser.add_render_rule("image", _image_as_link)
    # The same rule, in the same place: a table may still interrupt a paragraph.
    parser.block.ruler.at("table", partial(_proportionate_table, table), {"alt": ["paragraph", "reference"]})
    parser.inline.skipToken = partial(_metered_lookahead, parser.inline.skipToken)  # type: ignore[method-assign]

    def link_open(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
        tokens[index].attrSet("rel", "noreferrer noopener nofollow")
        return renderer.renderToken(tokens, index, options, env)

    parser.add_render_rule("link_open", link_open)
    return parser


# -- what a text costs the parser ---------------------------------------------------------------------------------

_LINE_WORK = 32
_WORK = (("\n", _LINE_WORK), ("[", 14), ("*", 14), ("_", 14), ("~", 14))
_WORK += tuple((mark, 2) for mark in "!#$%&+-:<=>@\\]^`{}|")
"""What markdown-it-py spends, roughly in microseconds of a current core, on each of what makes it slow: a line
(every block rule is tried on it; a blank line costs next to nothing), a ``[`` (the end of a link's label is looked
for), a delimiter of emphasis or strikethrough, and any other character its inline rules stop at (or, for ``|``,
a table splits cells at). Prose costs a hundredth of a microsecond per character."""

_LOOKAHEAD = "relay.lookahead"
"""The key, in markdown-it's per-render ``env``, of how many more tokens looking for link labels' ends may take."""


class _TooCostly(Exception):
    """Parsing a text took more than its share of markdown-it's lookahead (``LINK_LOOKAHEAD_PER_CHAR``)."""


def _work(text: str) -> int:
    """The parsing work ``text`` would take, from counting what costs (``_WORK``): as fast as ``str.count``."""
    work = sum(weight * text.count(mark) for mark, weight in _WORK)
    return work - _LINE_WORK * text.count("\n\n")


def _metered_lookahead(skip_token: Callable[["StateInline"], None], state: "StateInline") -> None:
    """markdown-it's ``skipToken``, with which it looks for where a link's label ends, counted against the text's
    lookahead allowance when the render set one (``rendered``): past it, the text is not parsed any further."""
    left = state.env.get(_LOOKAHEAD)
    if left is not None:
        if left <= 0:
            raise _TooCostly
        state.env[_LOOKAHEAD] = left - 1
    skip_token(state)


def _proportionate_table(table: Callable[..., bool], state: "StateBlock", start: int, end: int, silent: bool) -> bool:
    """markdown-it's ``table`` rule, ended before the first row that would take it past ``TABLE_CELLS_PER_CHAR``.

    Its rows are counted only once its own check (a header, then a delimiter row) says a table starts here: the
    rule is tried at every block's start, and counting ahead from each would read a long text again and again."""
    if not table(state, start, end, True):
        return False
    return silent or table(state, start, _table_end(state, start, end), False)


def _table_end(state: "StateBlock", start: int, end: int) -> int:
    """The line before which the table starting at ``start`` ends: where markdown-it ends it (a blank, outdented
    or code line, another block's start), or before the row that would pad it past its cells' share (a row shorter
    than the header gets the header's width in empty cells)."""
    columns = _source_line(state, start).count("|") + 1
    terminators = state.md.block.ruler.getRules("blockquote")  # what markdown-it's table rule ends its rows with
    room = TABLE_CELL_SLACK
    line = start
    while line < end:
        if line >= start + 2 and _ends_rows(state, line, end, terminators):
            break
        room += TABLE_CELLS_PER_CHAR * (state.eMarks[line] - state.bMarks[line] + 1) - columns
        if room < 0:
            break
        line += 1
    return line


def _ends_rows(state: "StateBlock", line: int, end: int, terminators: list[Any]) -> bool:
    indent = state.sCount[line] - state.blkIndent
    if indent < 0 or indent >= 4 or state.isEmpty(line):
        return True
    return any(rule(state, line, end, True) for rule in terminators)


def _source_line(state: "StateBlock", line: int) -> str:
    return str(state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]])


def _in_proportion(tokens: list["Token"], length: int) -> bool:
    """Whether parsed ``tokens`` nest within ``MAX_MARKDOWN_NESTING`` (deeper, markdown-it dropped text) and copy
    link addresses and titles within ``LINK_COPIES_PER_CHAR`` of the text's ``length``."""
    room = LINK_COPIES_PER_CHAR * length + LINK_COPY_SLACK
    for token in tokens:
        if token.level >= MAX_MARKDOWN_NESTING - 1:  # opened at this level, it took markdown-it to its limit
            return False
        depth = 0
        for child in token.children or ():
            depth += child.nesting
            if depth >= MAX_MARKDOWN_NESTING:
                return False
            if child.type in ("link_open", "image"):
                room -= sum(len(str(value)) for value in child.attrs.values())
        if room < 0:
            return False
    return True


# -- rendering ----------------------------------------------------------------------------------------------------


def rendered(text: str) -> Markup | None:
    """``text`` as safe HTML from its markdown; ``None`` when that would cost out of proportion to its length."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as markdown-it reads lines, for ``_work`` to count
    if _work(text) > MARKDOWN_WORK_PER_CHAR * len(text) + MARKDOWN_WORK_SLACK:
        return None
    parser = _parser()
    env: dict[str, Any] = {_LOOKAHEAD: int(LINK_LOOKAHEAD_PER_CHAR * len(text)) + LINK_LOOKAHEAD_SLACK}
    try:
        tokens = parser.parse(text, env)
    except _TooCostly:
        return None
    if not _in_proportion(tokens, len(text)):
        return None
    return Markup(parser.renderer.render(tokens, parser.options, env))  # noqa: S704 - html off: escaped HTML


def render_markdown(text: str) -> Markup:
    """Safe HTML for ``text``: the library escapes everything, raw HTML included; a text that would cost out of
    proportion to its length is shown as it is, escaped."""
    html = rendered(text)
    return html if html is not None else Markup('<p class="plain">{}</p>\n').format(text)


_REFERENCE_START = re.compile(r"&(?=[0-9A-Za-z#])")


def text_html(text: str) -> str:
    """``text`` as an element's content, in the fewest bytes: ``<`` escaped, and ``&`` where a character reference
    could start (before a letter, a digit or ``#``); elsewhere ``&``, ``>`` and quotes mean themselves. So no
    character takes more than the four bytes of ``&lt;``. A ``&`` that ends ``text`` must be followed by a tag."""
    if "&" in text:
        text = _REFERENCE_START.sub("&amp;", text)
    return text.replace("<", "&lt;")


def _plain_html(text: str) -> str:
    return f'<p class="plain">{text_html(text)}</p>\n'


def html_size(html: str) -> int:
    """Bytes of ``html`` on the page (a lone surrogate goes out as one replacement byte)."""
    return len(html) if html.isascii() else len(html.encode("utf-8", "replace"))


# -- streaming ----------------------------------------------------------------------------------------------------


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


class MarkupBudget:
    """Bytes a page's streamed text may still take: ``PAGE_BYTES_PER_ANSWER_BYTE`` per byte of text shown so far,
    plus ``ANSWER_MARKUP_SLACK_BYTES``, less what was written for it. The text itself is always written, as it
    arrives; a rendered twin only if it fits in what is left."""

    def __init__(self) -> None:
        self.left = ANSWER_MARKUP_SLACK_BYTES

    def earn(self, text: str) -> None:
        self.left += PAGE_BYTES_PER_ANSWER_BYTE * html_size(text)

    def spend(self, html: str, size: int | None = None) -> str:
        self.left -= html_size(html) if size is None else size
        return html

    def fitting(self, text: str, estimate: int, frame: int) -> str | None:
        """``text`` rendered, if ``frame`` bytes of markup around it fit too: tried only if ``estimate`` (the bytes
        of the text escaped, about what its rendering takes) fits, so text that cannot fit is not parsed at all."""
        if estimate + frame > self.left:
            return None
        html = rendered(text)
        return html if html is not None and html_size(html) + frame <= self.left else None


def render_within(budget: MarkupBudget, text: str) -> Markup:
    """A text the page shows whole (an answer's replacement), rendered if that fits ``budget``, else as plain text."""
    budget.earn(text)
    plain = _plain_html(text)
    html = budget.fitting(text, html_size(plain), 0)
    return Markup(budget.spend(html if html is not None else plain))  # noqa: S704 - escaped either way


_TWIN_OPEN = '</span><div class="md-block">'
_TWIN_CLOSE = '</div><span class="md-raw">'
_NEW_RAW = '</span><span class="md-raw">'


class MarkdownStream:
    """One answer arriving in deltas, as HTML pieces: raw text at once, completed blocks rendered after it.

    Linear in the answer's length, whatever its shape: every character is read once as it arrives, and rendered at
    most twice (in its block, in the whole answer); a line is classified from its own text and two flags (inside a
    fence, text since the last block ended), never by looking back over the block. Completed blocks wait until
    their text is ``1 / BLOCKS_PER_ANSWER_DOUBLING`` of the answer so far and render together: an answer has a few
    hundred rendered blocks at most, however many blank lines or deltas it has.
    """

    def __init__(self, budget: MarkupBudget | None = None) -> None:
        self.budget = budget if budget is not None else MarkupBudget()
        """Shared by the page's streams: what their rendered twins may still take."""
        self.whole = GrowingText()
        """The answer so far, kept as one text (not as its deltas: a long answer has a hundred thousand)."""
        self.pending = GrowingText()
        """Text after the last rendered twin: what the open raw span shows."""
        self.pending_bytes = 0
        """Bytes the open raw span's text took, escaped: about what its rendering takes."""
        self.raw_bytes = 0
        """Bytes all the raw text took, escaped: about what rendering the whole answer takes."""
        self.held = ""
        """A ``&`` that ended the last delta: it is written with what follows it, which says if it needs escaping."""
        self.line: list[str] = []
        """The line in progress (text after the last newline), in pieces."""
        self.fence: str | None = None
        """The marker of the code fence the block is inside, if any: a blank line there ends nothing."""
        self.has_text = False
        """Whether the block in progress has a non-blank line: a blank line ends a block only after text."""
        self.chars_read = 0
        """How many characters the block scanner has read: each once, so never more than the answer's length."""

    def open(self) -> str:
        return self.budget.spend('<div class="md-stream"><span class="md-raw">')

    def feed(self, delta: str) -> str:
        """The HTML that shows ``delta``: its text at once, and rendered blocks as they complete."""
        self.whole.write(delta)
        self.budget.earn(delta)
        cut = self._last_boundary(delta)
        if cut is None:
            return self._raw(delta)
        piece = self._raw(delta[:cut])
        if self.pending.length * BLOCKS_PER_ANSWER_DOUBLING >= self.whole.length:
            piece += self._twin()
        return piece + self._raw(delta[cut:])

    def close(self) -> str:
        """The end of the answer: its last block rendered, the stream closed, and the whole answer rendered as its
        final twin when it is no longer than ``FINAL_RENDER_CHARS``; a longer one stays as it streamed."""
        held, self.held = self.held, ""  # before a tag, a "&" means itself
        self.pending.write(held)
        block = self.pending.value()
        twin = self.budget.fitting(block, self.pending_bytes, len(_TWIN_OPEN)) if block.strip() else None
        tail = f'</span><div class="md-block">{twin}</div></div>' if twin is not None else "</span></div>"
        return self.budget.spend(held + tail) + self._final()

    @property
    def text(self) -> str:
        return self.whole.value()

    def _raw(self, text: str) -> str:
        """``text`` in the open raw span, but for a ``&`` at its end, held until what follows it is known."""
        text, self.held = self.held + text, ""
        if text.endswith("&"):
            text, self.held = text[:-1], "&"
        self.pending.write(text)
        html = text_html(text)
        size = html_size(html)
        self.pending_bytes += size
        self.raw_bytes += size
        return self.budget.spend(html, size)

    def _twin(self) -> str:
        """The open raw span closed, followed by its rendered twin when that fits the budget; then a new raw span.

        Text without a twin stays shown, in its own raw span; it is not rendered again (nor tried again)."""
        frame = len(_TWIN_OPEN + _TWIN_CLOSE)
        if self.pending_bytes + frame > self.budget.left:
            return ""  # it may fit later, with the blocks after it: it waits, and its raw span stays open
        html = self.budget.fitting(self.pending.value(), self.pending_bytes, frame)
        self.pending, self.pending_bytes = GrowingText(), 0
        return self.budget.spend(_NEW_RAW if html is None else f"{_TWIN_OPEN}{html}{_TWIN_CLOSE}")

    def _final(self) -> str:
        if self.whole.length > FINAL_RENDER_CHARS:
            return ""
        html = self.budget.fitting(self.whole.value(), self.raw_bytes, len('<div class="md-final"></div>'))
        return self.budget.spend(f'<div class="md-final">{html}</div>') if html is not None else ""

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
