"""The conversation so far, carried by the html page's reply form so that each new page shows every turn.

Stateless on purpose (the plugin keeps nothing between requests, and many copies of it may run): the reply form
holds the transcript in a hidden field, and the next request hands it back. It is bounded (the last
``MAX_TURNS`` turns, at most ``MAX_BYTES`` encoded) both ways: read back, it is cut exactly as it would have been
written, so a forged one costs the page no more than a genuine one. It is only ever shown escaped, so a forged one
can do no more than show the forger their own text. The api key is never part of it.

When the turns do not fit, a turn too long for its fair share of the bytes is shortened (its end replaced by
``…``) rather than the history dropped: one very long answer must not make every earlier turn disappear. Only
when even shortened turns would be too short to read (``MIN_SHARE``) does the oldest turn go.
"""

import json
from typing import Any

MAX_TURNS = 20
MAX_BYTES = 64 * 1024
MIN_SHARE = 4 * 1024
"""The fewest bytes a shortened turn keeps; below that, the oldest turn goes instead."""
ELLIPSIS = "…"

Turn = tuple[str, str]
"""A question and the app's answer (markdown)."""


def read_transcript(value: Any) -> list[Turn]:
    """The turns a reply form sent back, within the bounds ``write_transcript`` keeps (a forged field may hold more,
    or longer, turns than any page wrote); anything malformed is no transcript at all."""
    if not isinstance(value, str) or not value or len(value) > 2 * MAX_BYTES:
        return []
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return []
    if not isinstance(parsed, list):
        return []
    return bounded([(turn[0], turn[1]) for turn in parsed if _is_turn(turn)])


def write_transcript(turns: list[Turn]) -> str:
    """``turns`` as the hidden field's value: the most recent ones, shortened where needed to fit the bounds."""
    kept = bounded(turns)
    return _encode(kept) if kept else ""


def bounded(turns: list[Turn]) -> list[Turn]:
    """The most recent of ``turns`` that fit ``MAX_TURNS`` and ``MAX_BYTES``, shortened where needed: what a
    transcript written from ``turns`` holds. Bounded already, they come back unchanged."""
    # No text longer than the whole field can fit whole: cut it first, so that a long answer is not copied whole
    # (as JSON, as bytes) while it is shortened.
    kept = [(_readable(question[:MAX_BYTES]), _readable(answer[:MAX_BYTES])) for question, answer in turns[-MAX_TURNS:]]
    while kept:
        fitted = _fitted(kept)
        if fitted is not None:
            return fitted
        kept.pop(0)
    return []


def _fitted(turns: list[Turn]) -> list[Turn] | None:
    """All of ``turns`` within ``MAX_BYTES``, the longest shortened to a fair share; ``None`` if that is too little."""
    if _size(_encode(turns)) <= MAX_BYTES:
        return turns
    sizes = [_turn_size(turn) for turn in turns]
    # The list's brackets and commas take one byte per turn, plus one.
    share = _fair_share(sizes, MAX_BYTES - len(turns) - 1)
    if share < MIN_SHARE:
        return None
    fitted = [turn if size <= share else _shortened(turn, share) for turn, size in zip(turns, sizes, strict=True)]
    return fitted if _size(_encode(fitted)) <= MAX_BYTES else None


def _fair_share(sizes: list[int], budget: int) -> int:
    """The largest size cap under which ``sizes`` add up to at most ``budget``: short turns keep all they have."""
    remaining = budget
    for index, size in enumerate(sorted(sizes)):
        share = remaining // (len(sizes) - index)
        if size > share:
            return share
        remaining -= size
    return budget


def _shortened(turn: Turn, share: int) -> Turn:
    """``turn`` in at most ``share`` encoded bytes: the answer cut first, a long question cut to a quarter."""
    question, answer = turn
    if _text_size(question) > share // 4:
        question = _cut(question, share // 4)
    return question, _cut(answer, share - 3 - _text_size(question))  # 3: the pair's brackets and comma


def _cut(text: str, limit: int) -> str:
    """The longest start of ``text`` that, with ``…`` after it, encodes in at most ``limit`` bytes."""
    if _text_size(text) <= limit:
        return text
    # Every character takes at least one byte, so no more than ``limit`` of them can fit: search among those.
    low, high = 0, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if _text_size(text[:middle] + ELLIPSIS) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low] + ELLIPSIS


def _encode(turns: list[Turn]) -> str:
    return json.dumps(turns, ensure_ascii=False, separators=(",", ":"))


def _turn_size(turn: Turn) -> int:
    return _size(_encode([turn])) - 2


def _text_size(text: str) -> int:
    return _size(json.dumps(text, ensure_ascii=False))


def _size(encoded: str) -> int:
    return len(encoded.encode())


def _readable(text: str) -> str:
    # A lone surrogate (Dify's JSON may hold one) cannot be UTF-8: the page shows a replacement, so does this.
    return text.encode("utf-8", "replace").decode()


def _is_turn(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)
