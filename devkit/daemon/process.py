"""``devkit.plugin.Plugin`` with its calls back to Dify (apps, storage, uploads) answered as Dify and its daemon do
(``internal/core/io_tunnel/backwards_invocation/task.go``, ``internal/core/dify_invocation/calldify/http_request.go``,
``pkg/utils/http_requests/http_warpper.go`` in langgenius/dify-plugin-daemon)."""

import contextlib
import ipaddress
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from devkit.daemon.files import FileService
from devkit.daemon.storage import PluginStorage
from devkit.plugin import Plugin, PluginError

APP_PERMISSION_DENIED = "permission denied, you need to enable app access in plugin manifest"
APP_READ_TIMEOUT_ENV = "DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT"
APP_READ_TIMEOUT = 240.0
"""``DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT``'s default (240000 ms, ``internal/types/app/config.go``) in seconds: how
long after Dify's answer began the daemon closes an app call's body, streaming or silent
(``time.AfterFunc(..., resp.Body.Close)``, ``RequestAndParseStream``)."""

APP_READ_TIMEOUT_ERROR = (
    "read app failed: read tcp 172.18.0.7:41238->172.18.0.5:5001: use of closed network connection\n"
    "failed to read system header"
)
"""When the read timeout closes the body (addresses: the daemon's and Dify API's on Dify's docker network), the reader,
blocked on the next length-prefixed chunk, fails with ``net.ErrClosed``; ``LengthPrefixedChunking``
(``pkg/utils/parser/chunking.go``) adds "failed to read system header", ``executeDifyInvocationAppTask`` the prefix."""

FETCH_APP_FAILED = "fetch app failed: data is nil"
"""Any failure of ``fetch_app``: ``RequestAndParse`` decodes Dify's error body as a response, finds neither ``data``
nor ``error``, and ``Request`` says so (``calldify/http_request.go``)."""

MAX_INVOCATION_TIMEOUT_ENV = "MAX_INVOCATION_TIMEOUT"
"""``DifyPluginEnv.MAX_INVOCATION_TIMEOUT`` (pydantic setting, whole seconds, default 250, unset by ``main.py``): the
SDK gives up on an app call silent that long ("invocation exited without response after 250 seconds")."""


class AppBackend(Protocol):
    """What answers the plugin's ``session.app`` calls: Dify's apps, or demo apps standing in for them."""

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        """Dify's events (one for blocking mode) for a backwards request (app_id, inputs, response_mode, user; chat
        calls add query and conversation_id)."""

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        """The app's parameters, as Dify's ``fetch_app`` returns them."""


class DifyError(Exception):
    """Raised by a backend where Dify fails the call, with Dify's message (e.g. "app not found"). Before the stream
    starts, a ``ValueError`` in Dify (every refusal: unknown app, missing query, input checks, unknown conversation) is
    an HTTP 400 ``body`` the daemon quotes whole; later the backwards-invocation wrapper sends ``{"error": str(e)}``."""

    status = 400

    def body(self) -> str:
        """Dify's HTTP error body for this error (``api/libs/external_api.py``, ``handle_value_error``)."""
        return dify_json({"code": "invalid_param", "message": str(self), "status": self.status})


class DifyServerError(DifyError):
    """Any other exception in Dify before the stream starts, such as a ``TypeError`` in input checks or a blocking
    model error (``InvokeError``, ``QuotaExceededError``... go to ``handle_general_exception``): a bare HTTP 500."""

    status = 500

    def body(self) -> str:
        return dify_json({"message": "Internal Server Error", "code": "unknown", "status": 500})


def seconds_from_env(name: str, default: float, *, per_second: int = 1) -> float:
    """The daemon's time limit from variable ``name`` (a whole number of ``1/per_second`` s), else ``default``."""
    value = os.environ.get(name, "").strip()
    return int(value) / per_second if value.isdigit() else default


def _is_private_host(host: str) -> bool:
    """Whether Dify's SSRF proxy refuses ``host`` (``http_access deny to_private_networks``): local names,
    private, loopback or link-local addresses."""
    if host in ("localhost", "") or host.endswith(".localhost") or "." not in host:
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def dify_json(payload: Mapping[str, Any]) -> str:
    """A JSON error as Dify's API writes it (measured on 1.16.0-rc1): compact, ``/`` as ``\\/`` (only in strings: no
    value changes), the handler's key order, a final newline; non-ASCII (not measured) escaped."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/") + "\n"


class PluginProcess(Plugin):
    """One plugin subprocess, driven over stdio like Dify's daemon drives it, its app calls answered by ``apps``."""

    def __init__(
        self,
        plugin_dir: Path,
        apps: AppBackend,
        *,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        on_log: Callable[[str], None] | None = None,
        app_read_timeout: float | None = None,
        max_invocation_timeout: int | None = None,
        storage: PluginStorage | None = None,
        public_host: str = "localhost",
    ) -> None:
        """``max_invocation_timeout``: whole seconds, at least 1. ``storage``: pass a restarted plugin the same one, as
        Dify keeps it. A public ``public_host`` (``dify.example.com``) lets Dify's API fetch the plugin's endpoint."""
        super().__init__(plugin_dir, python=python, env=env, on_log=on_log, public_host=public_host)
        self.apps = apps
        self.storage = storage if storage is not None else PluginStorage()
        # Uploads go to the backend's file store when it has one (the demo apps read what was uploaded).
        shared = getattr(apps, "files", None)
        self.files = shared if isinstance(shared, FileService) else FileService()
        self._owns_files = self.files is not shared
        if max_invocation_timeout is not None:
            self.env[MAX_INVOCATION_TIMEOUT_ENV] = str(int(max_invocation_timeout))
        default_read_timeout = seconds_from_env(APP_READ_TIMEOUT_ENV, APP_READ_TIMEOUT, per_second=1000)
        self.app_read_timeout = app_read_timeout if app_read_timeout is not None else default_read_timeout
        if getattr(apps, "network", False) is None:
            apps.network = self.fetch  # type: ignore[attr-defined] - the backend reads remote files through it

    def stop(self, timeout: float = 5) -> None:
        if self._owns_files:
            self.files.close()
        super().stop(timeout)

    def fetch(self, url: str, timeout: float = 30) -> tuple[bytes, str] | None:
        """Body and type of a 200 when Dify's API fetches ``url`` (this plugin's endpoint on a public host) through its
        SSRF proxy; else ``None``."""
        parts = urlsplit(url)
        if parts.hostname != self.public_host or _is_private_host(self.public_host) or not parts.path.startswith("/e/"):
            return None
        hook_id, _, rest = parts.path.removeprefix("/e/").partition("/")
        try:
            response = self.request("GET", "/" + rest, hook_id=hook_id, timeout=timeout)
            body = response.read(timeout=timeout)
        except PluginError:
            return None
        if response.status != 200:
            return None
        return body, (response.header("Content-Type") or "application/octet-stream").split(";")[0]

    def answer_call(self, session_id: str, payload: Mapping[str, Any]) -> None:
        """Answer a call back to Dify (on its own thread), permission first (``checkPermission``), with
        ``backwards_response`` events: a ``"struct"`` response (an app's events: a ``"stream"`` one each) or an
        ``error``, then ``end``, unless the client left."""
        request_id = str(payload.get("backwards_request_id", ""))
        invoke_type = payload.get("type")
        request = dict(payload.get("request") or {})
        try:
            if invoke_type == "upload_file":  # no permission needed: Dify signs an upload URL for any plugin
                self._backwards(session_id, request_id, "response", "struct", self.files.sign_upload(request))
            elif invoke_type == "storage":
                storage = self._permission("storage")
                quota = int(storage.get("size") or 0) if storage.get("enabled") else None
                self._backwards(session_id, request_id, "response", "struct", self.storage.answer(request, quota))
            elif invoke_type not in ("app", "fetch_app"):
                raise _Refused(f"unsupported invoke type: {invoke_type}")
            elif not self._permission("app").get("enabled"):
                raise _Refused(APP_PERMISSION_DENIED)
            elif invoke_type == "app":
                self._stream_app(session_id, request_id, request)
            else:
                try:
                    result = self.apps.fetch_app(str(request.get("app_id", "")))
                except DifyError as exc:
                    raise _Refused(dify_error_message(invoke_type, exc, False)) from None
                self._backwards(session_id, request_id, "response", "struct", as_relayed(result))
        except _ClientGone:
            return  # the daemon cancelled the call and dropped the session: nothing more reaches the plugin
        except Exception as exc:
            self._backwards(session_id, request_id, "error", str(exc) or type(exc).__name__, None)
        self._backwards(session_id, request_id, "end", "", None)

    def _stream_app(self, session_id: str, request_id: str, request: dict[str, Any]) -> None:
        """Relay an app's events until it ends, fails or the read timeout closes it (``_Refused``); on its own thread,
        a silent app cannot hold the deadline back (past it, it finishes alone, as Dify's run would). A client leaving
        (``_ClientGone``) cancels the session's context, aborting the call to Dify and dropping the session, the plugin
        told nothing (``service/endpoint.go``, ``session.propagateTraceContext``, ``io_tunnel``)."""
        items: queue.Queue[tuple[str, Any]] = queue.Queue()

        def produce() -> None:
            try:
                for event in self.apps.invoke_app(request):
                    items.put(("event", event))
                items.put(("end", None))
            except BaseException as exc:  # handed over to the answering thread, which words it
                items.put(("error", exc))

        threading.Thread(target=produce, name="dify-app", daemon=True).start()
        deadline: float | None = None  # the body's timer starts once Dify's answer has begun
        kind, value = "quiet", None
        while True:
            if kind == "quiet":  # nothing in hand: wait for the app, looking at the client and the deadline meanwhile
                wait = _CLIENT_CHECK if deadline is None else min(_CLIENT_CHECK, max(0.0, deadline - time.monotonic()))
                with contextlib.suppress(queue.Empty):
                    kind, value = items.get(timeout=wait)
            if self._session(session_id) is None:
                raise _ClientGone
            if kind in ("quiet", "event") and deadline is not None and time.monotonic() >= deadline:
                raise _Refused(APP_READ_TIMEOUT_ERROR)
            if kind == "error":
                raise _Refused(dify_error_message("app", value, started=deadline is not None))
            if kind == "end":
                return
            if kind == "quiet":
                continue
            if deadline is None:
                deadline = time.monotonic() + self.app_read_timeout
            # Events in hand go in one write, each its own message: a fast Dify's burst through the daemon's pipe.
            ready = []
            while kind == "event" and len(ready) < _BURST:
                ready.append(as_relayed(value))
                try:
                    kind, value = items.get_nowait()
                except queue.Empty:
                    kind, value = "quiet", None
            self._backwards_many(session_id, request_id, [("response", "stream", event) for event in ready])

    def _permission(self, name: str) -> dict[str, Any]:
        return (((self.manifest or {}).get("resource") or {}).get("permission") or {}).get(name) or {}


def dify_error_message(invoke_type: Any, error: BaseException, started: bool) -> str:
    """A failed call to Dify as the daemon words it: ``RequestAndParseStream`` quotes an HTTP error's body whole,
    newline included (``http_warpper.go``); a ``{"error"}`` item once the stream runs, or the daemon's own failure to
    reach Dify (a Go transport error), is wrapped in call-site names (``calldify/http_request.go``, ``task.go``)."""
    if invoke_type != "app":
        return FETCH_APP_FAILED
    if not isinstance(error, DifyError):
        return f"{'read' if started else 'invoke'} app failed: {str(error) or type(error).__name__}"
    if started:
        return f"read app failed: request failed: {error}"
    return f"invoke app failed: request failed with status code: {error.status} and respond with: {error.body()}"


def as_relayed(value: Any) -> Any:
    """``value`` after the daemon's Go round trip (``map[string]any``, ``encoding/json``): keys sorted, every number a
    float64 (``2.0`` arrives as ``2``, integers beyond 2**53 lose precision)."""
    if isinstance(value, Mapping):
        return {str(key): as_relayed(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [as_relayed(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    try:
        number = float(value)
    except OverflowError:
        return value
    return int(number) if number.is_integer() and abs(number) < 1e21 else number


_CLIENT_CHECK = 0.05  # seconds between a silent app call's looks at whether its client is still there
_BURST = 256  # app events written to the plugin at once, at most


class _ClientGone(Exception):
    """The session's HTTP client went away: the daemon has cancelled the app call."""


class _Refused(Exception):
    """A backwards call that fails in the daemon's words, sent as they are."""
