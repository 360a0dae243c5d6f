"""Bounds of the html pages, with the reason for each.

The pages show text that others wrote: an app's answers and its opening statement (whoever configured the app in
Dify), and the transcript a reply form carries (whoever posts the form, who may have forged it). Whatever its shape,
such text must cost the plugin CPU time, and the page bytes, in proportion to its length and with a small constant,
because every page is rendered on the one event loop that all requests share. The transport's own bounds (body
sizes, chunks, calls) are in ``relay.core.limits``; the transcript's are in ``relay.native.transcript``.
"""

PAGE_BYTES_PER_ANSWER_BYTE = 4
"""What a page may spend on an answer: four bytes per byte of it. The text shows as it arrives (``<`` takes four
bytes once escaped), and then, while they fit in what is left, its rendered twins (the blocks as they complete,
the whole answer at its end); what does not fit stays shown as it arrived."""

ANSWER_MARKUP_SLACK_BYTES = 32 * 1024
"""Bytes an answer's rendered twins may take beyond ``PAGE_BYTES_PER_ANSWER_BYTE``: a short answer with markup
heavier than its text (a table of one-letter cells) is still shown rendered."""

BLOCKS_PER_ANSWER_DOUBLING = 32
"""A completed block is rendered once the text that waits for it is at least 1/32 of the answer so far; shorter
blocks wait and are rendered with the next. So an answer has a few hundred rendered blocks at most, however it is
cut into deltas: each costs a render, and a browser slows down with the square of their number (tens of thousands
of them took Chromium minutes to lay out)."""

MAX_MARKDOWN_NESTING = 20
"""Deepest nesting of lists, quotes, emphasis and links that markdown renders (markdown-it's ``maxNesting``): past
it the parser silently drops the rest of the text, so such a text shows as plain text instead, whole."""

MARKDOWN_WORK_PER_CHAR = 4
"""Most parsing work per character that markdown renders (work: about a microsecond, see
``relay.native.formats.markdown._WORK``); text past it, such as a run of ``[``, shows as plain text. Ordinary
answers need under 1.5; the parser is linear, but a hostile text costs it ten or more times as much."""

MARKDOWN_WORK_SLACK = 4096
"""Parsing work any text may take beyond ``MARKDOWN_WORK_PER_CHAR``: a short text always renders as markdown."""

LINK_LOOKAHEAD_PER_CHAR = 0.25
"""Most tokens markdown-it may step through, per character of text, looking for where link labels end: every
``[`` without its ``]`` makes it step through the rest of the paragraph (twenty ``[`` deep), which costs ten times
what parsing the text once does. Ordinary links take a few steps each; a text past this shows as plain text."""

LINK_LOOKAHEAD_SLACK = 4096
"""Tokens any text may step through beyond ``LINK_LOOKAHEAD_PER_CHAR``."""

TABLE_CELLS_PER_CHAR = 1
"""Most cells per character of a table's text: markdown pads a row shorter than its header with empty cells, so
a header of a thousand columns over short rows would be a million cells from a few kilobytes. A table ends before
the row that would pass this; ordinary tables have one cell per several characters."""

TABLE_CELL_SLACK = 256
"""Cells a table may pad beyond ``TABLE_CELLS_PER_CHAR``: a row or two missing their last cells stay in it."""

LINK_COPIES_PER_CHAR = 10
"""Most characters of link addresses and titles per character of text: a link definition (``[x]: <address>``) is
copied into every link that names it, so ``[x]`` a thousand times after one long address would be a thousand
copies of it. Ten per character leaves room for an address's percent-encoding (up to nine per character)."""

LINK_COPY_SLACK = 16 * 1024
"""Characters of link addresses and titles any text may have beyond ``LINK_COPIES_PER_CHAR``."""

MAX_OPENING_STATEMENT_CHARS = 16 * 1024
"""Longest opening statement the form page shows; a longer one is cut, with ``…``. It greets a person before
their first question: a few paragraphs. Every person the app's form is shown to makes the plugin render it."""

MAX_SUGGESTED_QUESTIONS = 16
"""Most suggested questions the form page offers (Dify's editor suggests a handful); the first ones are kept."""

MAX_SUGGESTED_QUESTION_CHARS = 512
"""Longest suggested question the form page offers: each is a button, whose text is also the question it sends,
so a longer one is left out rather than cut."""
