"""The one scriptable fake of Dify's plugin session (``relay.core.dify.DifySession``) for in-process tests.

It records every call (``session.app.calls``: app invocations and ``fetch_app``), plays a script for app
invocations, answers ``fetch_app`` with fixed parameters (or raises), and keeps plugin storage in memory with the
daemon's words for an unknown key and for a store that refuses writes (full, or not enabled).
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

Script = Callable[[str, dict[str, Any]], Any]

LOAD_FAILED = "load data failed, please check if the key is correct or you have not set it"
QUOTA_EXCEEDED = "save data failed: allocated size is greater than max storage size"


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


class FakeStorage:
    """Plugin storage: bytes in, bytes out; ``writable=False`` refuses every write, as a full store does."""

    def __init__(self, *, writable: bool = True, readable: bool = True) -> None:
        self.values: dict[str, bytes] = {}
        self.writable = writable
        self.readable = readable
        self.writes = 0

    def set(self, key: str, val: bytes) -> None:
        self.writes += 1
        if not self.writable:
            raise Exception(QUOTA_EXCEEDED)
        self.values[key] = bytes(val)

    def get(self, key: str) -> bytes:
        if not self.readable or key not in self.values:
            raise Exception(LOAD_FAILED)
        return self.values[key]

    def delete(self, key: str) -> None:
        if key not in self.values:
            raise Exception(f"delete data failed: stat persistence/{key}: no such file or directory")
        del self.values[key]

    def exist(self, key: str) -> bool:
        return key in self.values

    @property
    def size(self) -> int:
        """What the daemon counts against the quota: the values' bytes."""
        return sum(len(value) for value in self.values.values())


class FakeSession:
    """What the relay needs of the SDK's Session (``relay.core.dify.DifySession``), scripted."""

    def __init__(
        self,
        script: Script,
        parameters: dict[str, Any] | Exception | None = None,
        *,
        storage: FakeStorage | None = None,
        endpoint_id: str = "endpoint-1",
    ) -> None:
        self.app = FakeApps(script, parameters)
        self.storage = storage if storage is not None else FakeStorage()
        self.endpoint_id = endpoint_id

    def ran(self) -> list[tuple[str, dict[str, Any]]]:
        """The app invocations only (no ``fetch_app``)."""
        return [call for call in self.app.calls if call[0] in ("chat", "workflow", "completion")]

    def fetches(self) -> int:
        return sum(1 for name, _ in self.app.calls if name == "fetch_app")


def stream_of(*events: dict[str, Any], fail_with: BaseException | None = None) -> Script:
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
