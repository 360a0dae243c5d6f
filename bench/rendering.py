"""``python -m bench.rendering``: what hostile text costs the html pages, in CPU and in page bytes.

Each case is one of the inputs that once made the pages slow or huge, driven in-process the way the native
surface drives it (``relay.native.handler``): a form's transcript through ``read_transcript`` into the page's
``PageInfo``, an app's parameters as Dify sends them through ``AppParameters.parse`` and ``app_form`` into
``render_form_page``, an answer's deltas in the pump's batches through the html encoder. For each: the CPU this
process spent (``time.process_time``) and the page's bytes over the bytes of the text it shows.
"""

from __future__ import annotations

import gc
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from relay.core.apps import CHAT
from relay.core.catalog import App
from relay.core.parameters import AppParameters
from relay.core.pump import MAX_BATCH
from relay.native.form import app_form, render_form_page
from relay.native.formats import PageInfo, encode
from relay.native.request import Format
from relay.native.transcript import read_transcript

APP_ID = "0b3f7c1e-5a2d-4e8f-9c6b-1d2e3f4a5b6c"

FORGED_TRANSCRIPT = json.dumps([["q", "[" * 120_000]])
"""A reply form's transcript nobody's page wrote: one turn of 120,000 ``[`` (markdown-it's costliest character)."""
OPENING_STATEMENT = "<" * 1_000_000
"""An app's opening statement of 1 MB of ``<``: four bytes each once escaped."""
LT_ANSWER = "<" * (5 * 1024 * 1024)
"""An answer of 5 MiB of ``<``, in deltas of ``LT_DELTA`` characters."""
LT_DELTA = 1024
TINY_ANSWER = (">>>\n\n" * 40_000)[:200_000]
"""200,000 characters in deltas of seven: a quote nested three deep and a blank line, a block every five
characters, the most markup per character of answer that streaming blocks one by one gave."""
TINY_DELTA = 7
NESTED_LIST = "".join("  " * level + "- item\n" for level in range(500))
"""A list nested 500 levels deep, one level per line."""
NESTED_DELTA = 64


def measure() -> dict[str, float]:
    """CPU seconds (``<case>.cpu_s``) and page bytes over shown bytes (``<case>.bytes_ratio``) of every case, and
    how deeply the nested list's page nests its elements (``nested_list.depth``)."""
    figures: dict[str, float] = {}
    cases: dict[str, tuple[Callable[[], bytes], int]] = {
        "transcript": (_forged_transcript_page, len(FORGED_TRANSCRIPT.encode())),
        "form": (_form_page, len(OPENING_STATEMENT.encode())),
        "lt_answer": (lambda: _answer_page(LT_ANSWER, LT_DELTA), len(LT_ANSWER.encode())),
        "tiny_deltas": (lambda: _answer_page(TINY_ANSWER, TINY_DELTA), len(TINY_ANSWER.encode())),
        "nested_list": (lambda: _answer_page(NESTED_LIST, NESTED_DELTA), len(NESTED_LIST.encode())),
    }
    for name, (build, shown) in cases.items():
        seconds, page = _timed(build)
        figures[f"{name}.cpu_s"] = seconds
        figures[f"{name}.bytes_ratio"] = len(page) / shown
        if name == "nested_list":
            figures["nested_list.depth"] = float(nesting_depth(page.decode()))
    return figures


def _timed(build: Callable[[], bytes]) -> tuple[float, bytes]:
    gc.collect()
    start = time.process_time()
    page = build()
    return time.process_time() - start, page


def _forged_transcript_page() -> bytes:
    """A reply posted with a forged transcript: read back, shown above the next answer, carried on."""
    info = PageInfo(CHAT, APP_ID, "bench", query="next", transcript=tuple(read_transcript(FORGED_TRANSCRIPT)))
    return _page(info, [{"event": "message", "answer": "ok", "conversation_id": "c1"}])


def _form_page() -> bytes:
    parameters = {"opening_statement": OPENING_STATEMENT, "suggested_questions": ["What can you do?"]}
    form = app_form(AppParameters.parse(parameters))
    return render_form_page(form, CHAT, App(APP_ID, "bench"), {}, "en").encode()


def _answer_page(answer: str, delta: int) -> bytes:
    info = PageInfo(CHAT, APP_ID, "bench", query="Tell me", restart_href="./bench")
    events: list[dict[str, Any]] = [
        {"event": "message", "answer": answer[start : start + delta], "conversation_id": "c1"}
        for start in range(0, len(answer), delta)
    ]
    events.append({"event": "message_end", "metadata": {"usage": {"total_tokens": 1, "latency": 1.0}}})
    return _page(info, events)


def _page(info: PageInfo, events: list[dict[str, Any]]) -> bytes:
    """The body as the surface streams it: the pump's batches (at most ``MAX_BATCH`` events) through the encoder."""
    return b"".join(encode(Format.HTML, _batches(events), info))


def _batches(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(events), MAX_BATCH):
        yield events[start : start + MAX_BATCH]


_NESTING_TAG = re.compile(r"<(/?)(ul|ol|li|blockquote|em|strong|del|a)\b")


def nesting_depth(page: str) -> int:
    """How deeply the page's lists, quotes, emphasis and links nest (what makes a browser slow to lay it out)."""
    depth = deepest = 0
    for tag in _NESTING_TAG.finditer(page):
        depth += -1 if tag.group(1) else 1
        deepest = max(deepest, depth)
    return deepest


def main() -> None:
    figures = measure()
    for name, value in figures.items():
        print(f"{name:24} {value:10.3f}")


if __name__ == "__main__":
    main()
