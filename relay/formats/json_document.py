"""JSON: the blocking result exactly as Dify returns it, as one document."""

from collections.abc import Iterable, Iterator
from typing import Any

from relay.formats.ndjson import encode_event


def render_json(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    # The request parser only lets blocking calls reach this format, and those yield one event: the result.
    for event in events:
        yield encode_event(event)
        return
