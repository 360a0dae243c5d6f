"""In-process fixtures: the scriptable fake of Dify's session (``tests.fakes``), requests, settings."""

from typing import Any

import pytest
from werkzeug import Request
from werkzeug.test import EnvironBuilder

from tests.fakes import FakeSession, FakeStorage, failing, stream_of

__all__ = ["APP_ID", "CHAT_EVENTS", "FakeSession", "FakeStorage", "failing", "make_request", "serving", "stream_of"]

APP_ID = "6f1c2a9e-3b7d-4c1e-9a2f-0d4b5c6e7f80"


def serving(**settings: str) -> dict[str, str]:
    """Endpoint settings that serve every app (``allowed_apps: *``) unless the test says otherwise."""
    return {"allowed_apps": "*", **settings}


CHAT_EVENTS = (
    {"event": "message", "answer": "Hello", "conversation_id": "c1", "message_id": "m1"},
    {"event": "message", "answer": " <b>world</b>", "conversation_id": "c1", "message_id": "m1"},
    {"event": "message_end", "conversation_id": "c1", "message_id": "m1", "metadata": {"usage": {"total_tokens": 7}}},
)


@pytest.fixture
def chat_session() -> FakeSession:
    return FakeSession(stream_of(*CHAT_EVENTS))


def make_request(
    path: str = f"/chat/{APP_ID}",
    method: str = "GET",
    *,
    query: dict[str, str] | None = None,
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    content_type: str | None = None,
) -> Request:
    builder = EnvironBuilder(
        path=path,
        method=method,
        query_string=query,
        json=json,
        data=data,
        headers=headers,
        content_type=content_type,
    )
    return Request(builder.get_environ())
