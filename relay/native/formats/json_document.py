"""JSON: the blocking result exactly as Dify returns it, as one document."""

from typing import Any

from relay.core.wire import json_bytes


class JsonEncoder:
    """The request parser lets only blocking calls reach this format, and those have one event: the result."""

    def __init__(self) -> None:
        self.written = False

    def start(self) -> bytes:
        return b""

    def event(self, event: Any) -> bytes:
        if self.written:
            return b""
        self.written = True
        return json_bytes(event)

    def keepalive(self) -> bytes:
        return b""  # nothing may precede a JSON document; the README says to stream long runs

    def failure(self, error: dict[str, Any]) -> bytes:
        raise RuntimeError(error["message"])  # the caller builds the document whole, before its status

    def end(self) -> bytes:
        return b""
