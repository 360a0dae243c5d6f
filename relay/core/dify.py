"""What the relay uses of Dify's plugin SDK, typed; and ``Dify``, one request's view of it.

``DifySession`` names exactly what the relay calls on the SDK's ``Session`` (``dify_plugin.core.runtime``): the app
invocations per type, ``fetch_app``, plugin storage and the endpoint's id. (Not ``session.file.upload``: Dify
never gives a plugin's upload to an app readable; ``relay.core.served`` says what the plugin does instead.) Tests
hand in a scriptable fake of the same shape (``tests/fakes.py``); the devkit's daemon answers the real one.

``Dify`` wraps a session for the length of one request: it is the only place that calls it, so an app's parameters
are fetched at most once per request whoever asks for them (a form page, file checks, input mapping, tool schemas),
and every failure comes back as a ``RelayError``.
"""

from collections.abc import Mapping
from typing import Any, Protocol

from relay.core.apps import AppKind
from relay.core.calls import AppCall
from relay.core.failures import refusal
from relay.core.parameters import AppParameters
from relay.core.served import FileLinks, FileSigner


class AppInvoker(Protocol):
    def invoke(self, **kwargs: Any) -> Any: ...


class AppService(Protocol):
    chat: AppInvoker
    workflow: AppInvoker
    completion: AppInvoker

    def fetch_app(self, app_id: str) -> Mapping[str, Any]: ...


class Storage(Protocol):
    """Plugin storage: per plugin and workspace, shared by every copy of the plugin, counted against its quota."""

    def get(self, key: str) -> bytes: ...
    def set(self, key: str, val: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def exist(self, key: str) -> bool: ...


class DifySession(Protocol):
    app: AppService
    storage: Storage
    endpoint_id: str | None


class Dify:
    """One request's access to Dify: app calls, parameters fetched once per app, files handed over, storage."""

    def __init__(self, session: DifySession, endpoint_url: str = "") -> None:
        self._session = session
        self._parameters: dict[str, AppParameters] = {}
        self.endpoint_url = endpoint_url
        """The endpoint's public base URL (``Dify-Hook-Url`` up to ``/e/<hook_id>``), where Dify can fetch files."""

    @property
    def endpoint_id(self) -> str:
        return str(getattr(self._session, "endpoint_id", "") or "")

    @property
    def storage(self) -> Storage:
        return self._session.storage

    def parameters(self, app_id: str) -> AppParameters:
        """The app's parameters, fetched on first use only; a ``RelayError`` when Dify cannot give them."""
        found = self._parameters.get(app_id)
        if found is None:
            try:
                raw = self._session.app.fetch_app(app_id)
            except Exception as exc:
                raise refusal(exc, app_id=app_id, fetching=True) from None
            found = AppParameters.parse(raw)
            self._parameters[app_id] = found
        return found

    def invoke(self, kind: AppKind, call: AppCall) -> Any:
        """Start the app call: a generator of events (streaming) or one result (blocking). Raises as the SDK does."""
        common = {"inputs": call.inputs, "response_mode": call.response_mode.value, "user": call.user}
        if kind.takes_query:
            return self._session.app.chat.invoke(
                app_id=call.app_id, query=call.query, conversation_id=call.conversation_id, **common
            )
        invoker: AppInvoker = getattr(self._session.app, kind.name)
        return invoker.invoke(app_id=call.app_id, **common)

    def file_url(self, content: bytes, mimetype: str, filename: str) -> str:
        """An address under this endpoint where Dify can fetch the file while the app runs (``relay.core.served``);
        a 400 where Dify could not fetch it."""
        links = FileLinks(self.endpoint_url, FileSigner(self.storage, self.endpoint_id))
        return links.link(content, mimetype, filename)
