"""The conversation so far, carried by the html page's reply form so that each new page shows every turn.

Stateless on purpose (the plugin keeps nothing between requests, and many copies of it may run): the reply form
holds the transcript in a hidden field, and the next request hands it back. It is bounded (the last
``MAX_TURNS`` turns, at most ``MAX_BYTES`` encoded) and only ever shown escaped, so a forged one can do no more
than show the forger their own text. The api key is never part of it.
"""

import json
from typing import Any

MAX_TURNS = 20
MAX_BYTES = 64 * 1024

Turn = tuple[str, str]
"""A question and the app's answer (markdown)."""


def read_transcript(value: Any) -> list[Turn]:
    """The turns a reply form sent back; anything malformed is no transcript at all."""
    if not isinstance(value, str) or not value or len(value) > 2 * MAX_BYTES:
        return []
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return []
    if not isinstance(parsed, list):
        return []
    turns = [(turn[0], turn[1]) for turn in parsed if _is_turn(turn)]
    return turns[-MAX_TURNS:]


def write_transcript(turns: list[Turn]) -> str:
    """``turns`` as the hidden field's value: the most recent ones that fit the bounds."""
    kept = list(turns[-MAX_TURNS:])
    while kept:
        encoded = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
        if len(encoded.encode()) <= MAX_BYTES:
            return encoded
        kept.pop(0)
    return ""


def _is_turn(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)
