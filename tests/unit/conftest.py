"""In-process fixtures: a stand-in for ``session.app`` that records calls and plays scripted answers."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from werkzeug import Request
from werkzeug.test import EnvironBuilder

APP_ID = "6f1c2a9e-3b7d-4c1e-9a2f-0d4b5c6e7f80"


def serving(**settings: str) -> dict[str, str]:
    """Endpoint settings that serve every app (``allowed_apps: *``) unless the test says otherwise."""
    return {"allowed_apps": "*", **settings}


Script = Callable[[str, dict[str, Any]], Any]


class FakeInvocation:
    def __init__(self, kind: str, apps: "FakeApps") -> None:
        self.kind = kind
        self.apps = apps

    def invoke(self, **kwargs: Any) -> Any:
        self.apps.calls.append((self.kind, kwargs))
        return self.apps.script(self.kind, kwargs)


class FakeApps:
    def __init__(self, script: Script, parameters: dict[str, Any] | Exception | None = None) -> None:
        self.script = script
        self.parameters = parameters if parameters is not None else {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.chat = FakeInvocation("chat", self)
        self.workflow = FakeInvocation("workflow", self)
        self.completion = FakeInvocation("completion", self)

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        self.calls.append(("fetch_app", {"app_id": app_id}))
        if isinstance(self.parameters, Exception):
            raise self.parameters
        return self.parameters


class FakeSession:
    """What the relay needs of the SDK's Session: ``session.app.<kind>.invoke``."""

    def __init__(self, script: Script, parameters: dict[str, Any] | Exception | None = None) -> None:
        self.app = FakeApps(script, parameters)


def stream_of(*events: dict[str, Any], fail_with: BaseException | None = None) -> Callable[..., Iterator]:
    """A script that streams ``events`` (then raises ``fail_with``) and answers blocking calls with the first."""

    def script(kind: str, kwargs: dict[str, Any]) -> Any:
        if kwargs["response_mode"] == "blocking":
            return events[0]

        def generate() -> Iterator[dict[str, Any]]:
            yield from events
            if fail_with is not None:
                raise fail_with

        return generate()

    return script


def failing(exc: BaseException) -> Script:
    """A script like the SDK's: the call returns a generator that raises when first read."""

    def script(kind: str, kwargs: dict[str, Any]) -> Any:
        def generate() -> Iterable[dict[str, Any]]:
            raise exc
            yield  # pragma: no cover - makes this a generator

        if kwargs["response_mode"] == "blocking":
            raise exc
        return generate()

    return script


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
