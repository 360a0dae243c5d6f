"""Run a plugin directory as a real subprocess and talk to it the way Dify's plugin daemon does.

Dify starts a local plugin as ``python -m main`` with ``INSTALL_METHOD=local`` and speaks newline-framed JSON
over its stdin and stdout. Running the plugin the same way, instead of importing its classes, means the SDK's
own loader, router, threads and gevent patching are all in play, so what works here works in Dify.

What this module reproduces, and where the daemon (langgenius/dify-plugin-daemon) does it:

* stdout: any lines before the manifest JSON, the manifest (written by the SDK at start), then envelopes
  ``{"event": "session"|"log"|"error"|"heartbeat", "session_id", "data"}``. The daemon only counts an instance
  as ready at its first heartbeat (``internal/core/local_runtime/instance.go``), so ``start`` waits for both.
  A line of 5 MiB or more makes the daemon's ``bufio.Scanner`` fail, after which it kills the plugin; so do we.
* stdin: one JSON object per line, the request envelope of ``internal/core/session_manager/session.go``.
* backwards calls (``invoke`` session messages): answered on their own thread with ``backwards_response``
  events, each app event one ``response`` (message ``"stream"``; fetch_app ``"struct"``), then ``end``. Each
  event reaches the plugin as the daemon re-encodes it: decoded into a Go ``map[string]any`` and marshalled again,
  so keys come sorted and every number went through a float64 (``as_relayed``).
* errors are worded as the daemon words them (``internal/core/io_tunnel/backwards_invocation/task.go``,
  ``internal/core/dify_invocation/calldify/http_request.go``, ``pkg/utils/http_requests/http_warpper.go``): a
  refusal before the first event quotes Dify's HTTP answer whole (``invoke app failed: request failed with status
  code: 400 and respond with: {...}\n``); an error once the stream runs is ``read app failed: request failed:
  <msg>``; any failure of ``fetch_app`` is ``fetch app failed: data is nil`` (the daemon parses Dify's error body
  as if it were an answer and finds no ``data``). The manifest's ``resource.permission.app.enabled`` is checked
  first, as ``checkPermission`` does.
* time limits: the daemon closes an app call's response body ``DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT`` (240 s)
  after Dify's answer began, streaming or silent (``time.AfterFunc(..., resp.Body.Close)`` in
  ``RequestAndParseStream``); the plugin then gets ``read app failed: read tcp <daemon>-><api>: use of closed
  network connection`` and, on the next line, ``failed to read system header`` (``pkg/utils/parser/chunking.go``
  joins the two). Inside the plugin the SDK gives up on a call that stays silent for ``MAX_INVOCATION_TIMEOUT``
  seconds (250): "invocation exited without response after 250 seconds"; ``max_invocation_timeout`` lowers it
  through the plugin's environment (``DifyPluginEnv`` is a pydantic settings class and ``main.py`` does not set it).
"""

from __future__ import annotations

import binascii
import collections
import contextlib
import ipaddress
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn, Protocol, Self
from urllib.parse import urlsplit

from devkit.daemon.files import FileService
from devkit.daemon.http import HeaderItems, build_daemon_request
from devkit.daemon.storage import PluginStorage, StorageError

DEFAULT_HOOK_ID = "5f1c9b3e8a7d4c2e9b6a0d1f3e5c7a9b"
"""The hook id the devkit uses when none is given: Dify's are 32 hex characters too."""

DEFAULT_ENDPOINT_ID = "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a"
"""Stands for the endpoint's id in Dify's database; the plugin sees it as ``session.endpoint_id``."""

MAX_LINE_BYTES = 5 * 1024 * 1024
"""``PLUGIN_RUNTIME_MAX_BUFFER_SIZE``: the daemon's scanner fails on a stdout line this long or longer."""

APP_PERMISSION_DENIED = "permission denied, you need to enable app access in plugin manifest"

APP_READ_TIMEOUT = 240.0
"""``DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT`` (240000 ms, ``internal/types/app/config.go``), in seconds: how long
after Dify's answer began the daemon closes an app call's response body."""

APP_READ_TIMEOUT_ENV = "DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT"
"""Milliseconds, as the daemon reads it; ``PluginProcess`` takes it from the environment when not given."""

DAEMON_ADDRESS = "172.18.0.7:41238"
DIFY_API_ADDRESS = "172.18.0.5:5001"
"""Stand for the daemon's and Dify API's addresses on Dify's docker network: they appear in Go's network errors."""

APP_READ_TIMEOUT_ERROR = (
    f"read app failed: read tcp {DAEMON_ADDRESS}->{DIFY_API_ADDRESS}: use of closed network connection\n"
    "failed to read system header"
)
"""What the plugin gets when the read timeout closes the body: the body reader was blocked waiting for the next
length-prefixed chunk, so Go's read fails with ``net.ErrClosed`` and ``LengthPrefixedChunking`` joins it with
its own "failed to read system header"; ``executeDifyInvocationAppTask`` prefixes "read app failed: "."""

FETCH_APP_FAILED = "fetch app failed: data is nil"
"""Any failure of ``fetch_app``: ``RequestAndParse`` decodes Dify's error body as a response, finds no ``data`` and
no ``error`` in it, and ``Request`` says so (``calldify/http_request.go``)."""

MAX_INVOCATION_TIMEOUT_ENV = "MAX_INVOCATION_TIMEOUT"
"""``DifyPluginEnv.MAX_INVOCATION_TIMEOUT`` (whole seconds, default 250), read from the plugin's environment."""

_STDERR_TAIL = 40


class AppBackend(Protocol):
    """What answers the plugin's ``session.app`` calls: Dify's apps, or demo apps standing in for them."""

    def invoke_app(self, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
        """Run an app; ``request`` is the plugin's backwards request (app_id, inputs, response_mode, user, and
        for chat calls query and conversation_id). Yield Dify's events (one dict for blocking mode)."""
        ...

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        """The app's parameters, as Dify's ``fetch_app`` returns them."""
        ...


class DifyError(Exception):
    """Raised by a backend where Dify fails the call; ``str(error)`` is Dify's message (e.g. "app not found").

    Before the stream starts Dify answers with an HTTP error that the daemon quotes whole: a ``ValueError`` in
    Dify (every refusal: unknown app, missing query, input checks, unknown conversation) is HTTP 400 with
    ``{"code": "invalid_param", "message": <str(e)>, "status": 400}``. Once the stream runs, Dify's
    backwards-invocation wrapper sends ``{"error": str(e)}`` instead, and only the message travels.
    """

    status = 400

    def body(self) -> str:
        """Dify's HTTP error body for this error (``api/libs/external_api.py``, ``handle_value_error``)."""
        return dify_json({"code": "invalid_param", "message": str(self), "status": self.status})


class DifyServerError(DifyError):
    """Any other exception in Dify before the stream starts: Dify's generic HTTP 500, the message lost.

    Model errors in blocking mode end this way (``InvokeError``, ``QuotaExceededError`` and their kin are not
    ``ValueError`` classes, so ``handle_general_exception`` answers them), as does a ``TypeError`` in input checks.
    """

    status = 500

    def body(self) -> str:
        return dify_json({"message": "Internal Server Error", "code": "unknown", "status": 500})


def _is_private_host(host: str) -> bool:
    """Whether Dify's SSRF proxy refuses ``host`` (``http_access deny to_private_networks``): local names and
    private, loopback or link-local addresses."""
    if host in ("localhost", "") or host.endswith(".localhost") or "." not in host:
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def dify_json(payload: Mapping[str, Any]) -> str:
    """How Dify's API writes a JSON error, as measured on 1.16.0-rc1: compact, every ``/`` escaped as ``\\/``, in
    the handler's key order, and a final newline: ``{"code":"invalid_param","message":"app not found","status":400}``.
    (Non-ASCII text was not measured; it is escaped here, as ``json.dumps`` does by default.) A ``/`` occurs
    only inside strings in JSON text, so escaping every one of them changes no value."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/") + "\n"


class PluginError(Exception):
    """The plugin could not answer: it sent a session error, ended without a response, died, or timed out."""

    def __init__(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = dict(data) if data else None
        """The plugin's error payload (``error_type``, ``message``, ``args``) when the plugin sent one."""


class PluginSilent(PluginError):
    """The plugin sent nothing for the whole wait."""


class _Session:
    """Messages of one request, in arrival order, each stamped with ``time.monotonic()`` on arrival."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.items: queue.Queue[tuple[str, Any, float]] = queue.Queue()
        self._held: tuple[str, Any, float] | None = None

    def put(self, kind: str, value: Any = None) -> None:
        self.items.put((kind, value, time.monotonic()))

    def get(self, timeout: float) -> tuple[str, Any, float]:
        if self._held is not None:
            held, self._held = self._held, None
            return held
        try:
            return self.items.get(timeout=timeout)
        except queue.Empty:
            raise PluginSilent(f"the plugin sent nothing for {timeout:g} s") from None

    def wait(self, timeout: float) -> bool:
        """Whether a message came within ``timeout`` seconds (it stays for ``get``)."""
        if self._held is None:
            try:
                self._held = self.items.get(timeout=timeout)
            except queue.Empty:
                return False
        return True


class PluginResponse:
    """The plugin's answer to one request: status and headers at once, the body as it streams in."""

    def __init__(self, session: _Session, status: int, headers: dict[str, str], close: Callable[[], None]) -> None:
        self.status = status
        self.headers = headers
        self.error: str | None = None
        """The plugin's session ``error`` message if one came after the response began."""
        self.error_data: dict[str, Any] | None = None
        """That error's whole payload (``error_type``, ``message``, ``args`` with the traceback)."""
        self.chunk_sizes: list[int] = []
        self.chunk_times: list[float] = []
        """``time.monotonic()`` at which each chunk reached this process."""
        self._session = session
        self._close = close
        self._body = bytearray()
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def session_id(self) -> str:
        return self._session.session_id

    def wait(self, timeout: float) -> bool:
        """Whether the plugin said something more (a chunk, its end, an error) within ``timeout`` seconds."""
        return self._finished or self._session.wait(timeout)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A response header, matched case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)

    def chunks(self, timeout: float = 60) -> Iterator[bytes]:
        """Yield each body chunk the moment it arrives; stop at the session's end or error.

        ``timeout`` bounds the wait for each next message; a silent plugin raises ``PluginError``.
        Empty chunks are skipped (the daemon writes nothing for them).
        """
        try:
            while not self._finished:
                kind, value, arrived = self._session.get(timeout)
                if kind == "chunk":
                    if not value:
                        continue
                    self._body.extend(value)
                    self.chunk_sizes.append(len(value))
                    self.chunk_times.append(arrived)
                    yield value
                elif kind == "error":
                    self.error_data = dict(value or {})
                    self.error = str(self.error_data.get("message") or "the plugin failed")
                    self._finish()
                elif kind == "gone":
                    self.error = str(value)
                    self._finish()
                elif kind == "end":
                    self._finish()
        except PluginError:
            self._finish()
            raise

    def read(self, timeout: float = 60) -> bytes:
        """The whole body (waits for the end)."""
        for _ in self.chunks(timeout):
            pass
        return bytes(self._body)

    def text(self, timeout: float = 60) -> str:
        return self.read(timeout).decode("utf-8")

    def json(self, timeout: float = 60) -> Any:
        return json.loads(self.read(timeout))

    def lines(self, timeout: float = 60) -> list[dict[str, Any]]:
        """The body as NDJSON: one parsed object per non-blank line."""
        return [json.loads(line) for line in self.text(timeout).splitlines() if line.strip()]

    def close(self) -> None:
        """Stop listening to this session (the client went away); later messages for it are dropped."""
        self._finish()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._close()


class PluginProcess:
    """One plugin subprocess, driven over stdio like Dify's daemon drives it."""

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
        files: FileService | None = None,
        public_host: str = "localhost",
    ) -> None:
        """``app_read_timeout`` (seconds) defaults to ``DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT`` from the
        environment (milliseconds, as the daemon reads it), else 240 s. ``max_invocation_timeout`` (whole seconds,
        at least 1) becomes the plugin's ``MAX_INVOCATION_TIMEOUT``: the SDK's own limit on a silent app call.
        ``storage`` answers ``session.storage`` and ``files`` ``session.file.upload``; pass the same ones to a
        restarted plugin, as Dify keeps them."""
        self.plugin_dir = Path(plugin_dir)
        self.apps = apps
        self.storage = storage if storage is not None else PluginStorage()
        # The backend's file store when it has one (the demo apps read what was uploaded), else a private one.
        shared = files if files is not None else getattr(apps, "files", None)
        self._owns_files = shared is None
        self.files = shared if isinstance(shared, FileService) else FileService()
        self.python = python
        self.env = dict(env or {})
        if max_invocation_timeout is not None:
            self.env[MAX_INVOCATION_TIMEOUT_ENV] = str(int(max_invocation_timeout))
        self.app_read_timeout = app_read_timeout if app_read_timeout is not None else _read_timeout_from_env()
        self.on_log = on_log
        self.max_line_bytes = 0
        """The longest stdout line the plugin wrote so far, in bytes without its newline: the daemon's limit is
        5 MiB (``MAX_LINE_BYTES``), and a plugin must stay under it whatever it answers."""
        self.endpoint_id = DEFAULT_ENDPOINT_ID
        self.public_host = public_host
        """The host name requests come to, as Dify's nginx writes it into ``Dify-Hook-Url``: a public name (say
        ``dify.example.com``) stands for a Dify whose API can fetch the plugin's own endpoint through its proxy."""
        if getattr(apps, "network", False) is None:
            apps.network = self.fetch  # type: ignore[attr-defined] - the backend reads remote files through it
        self.manifest: dict[str, Any] | None = None
        self.manifest_at: float | None = None
        """``time.perf_counter()`` when the manifest came: a plugin is ready from then on."""
        self.recent_logs: collections.deque[str] = collections.deque(maxlen=200)
        """The last log lines of the plugin (stdout logs, non-JSON lines, stderr), for error messages."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_lock = threading.Lock()
        self._sessions_lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._closed_sessions: dict[str, int] = {}
        """Session id -> answers sent after it closed (see ``backwards_after_close``)."""
        self._manifest_seen = threading.Event()
        self._heartbeat_seen = threading.Event()
        self._stdout_closed = threading.Event()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
        self._threads: list[threading.Thread] = []
        self._death_reason: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> dict[str, Any]:
        """Start the plugin and wait until it is ready (manifest and first heartbeat); return the manifest."""
        if self._proc is not None:
            raise RuntimeError("this PluginProcess was already started; create a new one to restart")
        environment = {**os.environ, **self.env, "INSTALL_METHOD": "local", "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            [self.python, "-m", "main"],
            cwd=self.plugin_dir,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Own process group: a Ctrl-C in the terminal reaches the devkit, which then stops the plugin cleanly.
            start_new_session=True,
        )
        self._spawn(self._read_stdout, "stdout")
        self._spawn(self._read_stderr, "stderr")

        deadline = time.monotonic() + timeout
        for ready in (self._manifest_seen, self._heartbeat_seen):
            while not ready.wait(0.05):
                if self._stdout_closed.is_set() or self._proc.poll() is not None:
                    self._fail_start("exited before it was ready")
                if time.monotonic() > deadline:
                    self._fail_start(f"was not ready after {timeout:g} s")
        assert self.manifest is not None
        return self.manifest

    def _fail_start(self, what: str) -> NoReturn:
        self.stop(timeout=2)
        tail = "\n".join(self._stderr_tail) or "(nothing on stderr)"
        raise PluginError(f"the plugin in {self.plugin_dir} {what}; its stderr ended with:\n{tail}")

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and not self._stdout_closed.is_set()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def stop(self, timeout: float = 5) -> None:
        """Close stdin, terminate, kill if still running after ``timeout``; fail every open request.

        Closing stdin alone is not enough: the SDK's stdin reader loops on an empty read instead of exiting.
        """
        if self._owns_files:
            self.files.close()
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._death_reason = self._death_reason or "the plugin was stopped"
        if proc.stdin:
            with self._write_lock, contextlib.suppress(OSError):
                proc.stdin.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._death_reason = self._death_reason or "the plugin was stopped"
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._fail_sessions(self._death_reason)

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- requests ----------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: HeaderItems | None = None,
        body: bytes = b"",
        settings: Mapping[str, Any] | None = None,
        hook_id: str = DEFAULT_HOOK_ID,
        timeout: float = 60,
    ) -> PluginResponse:
        """Send ``METHOD /e/<hook_id><path>`` as the daemon would; return once status and headers are in.

        ``path`` may carry a query string. Raises ``PluginError`` when the plugin answers with a session error,
        ends without a response, dies, or stays silent for ``timeout`` seconds.
        """
        raw = build_daemon_request(method, path, headers=headers, body=body, hook_id=hook_id, host=self.public_host)
        return self.send_raw(raw, settings, timeout=timeout)

    def fetch(self, url: str, timeout: float = 30) -> tuple[bytes, str] | None:
        """What Dify's API gets when it fetches ``url`` through its SSRF proxy, if the address is this plugin's own
        endpoint under a public host name: the body and its type, for a 200; ``None`` for anything else (an address
        the proxy refuses or cannot reach, or an answer that is no file)."""
        parts = urlsplit(url)
        path = parts.path
        if parts.hostname != self.public_host or _is_private_host(self.public_host) or not path.startswith("/e/"):
            return None
        hook_id, _, rest = path.removeprefix("/e/").partition("/")
        try:
            response = self.request("GET", "/" + rest, hook_id=hook_id, timeout=timeout)
            body = response.read(timeout=timeout)
        except PluginError:
            return None
        if response.status != 200:
            return None
        return body, (response.header("Content-Type") or "application/octet-stream").split(";")[0]

    def send_raw(
        self, raw_http_request: bytes, settings: Mapping[str, Any] | None = None, *, timeout: float = 60
    ) -> PluginResponse:
        """Send an already serialized HTTP request, unchanged, as one endpoint invocation."""
        session = self._open_session()
        try:
            self._send(
                self._envelope(
                    session.session_id,
                    "request",
                    {
                        "user_id": "",
                        "type": "endpoint",
                        "action": "invoke_endpoint",
                        "raw_http_request": binascii.hexlify(raw_http_request).decode(),
                        "settings": dict(settings or {}),
                    },
                )
            )
            return self._await_head(session, timeout)
        except BaseException:
            self._close_session(session.session_id)
            raise

    def _await_head(self, session: _Session, timeout: float) -> PluginResponse:
        kind, value, _ = session.get(timeout)
        if kind == "head":
            status, headers = value
            return PluginResponse(session, status, headers, lambda: self._close_session(session.session_id))
        if kind == "error":
            data = dict(value or {})
            raise PluginError(str(data.get("message") or "the plugin failed"), data)
        if kind == "gone":
            raise PluginError(str(value))
        raise PluginError("the plugin ended the request without a response")

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=f"plugin-{name}", daemon=True)
        thread.start()
        if name in ("stdout", "stderr"):
            self._threads.append(thread)
        return thread

    def _envelope(self, session_id: str, event: str, data: Any) -> dict[str, Any]:
        return {
            "session_id": session_id,
            "conversation_id": None,
            "message_id": None,
            "app_id": None,
            "endpoint_id": self.endpoint_id,
            "context": None,
            "event": event,
            "data": data,
        }

    def _send(self, *messages: Mapping[str, Any]) -> None:
        """Write JSON lines to the plugin's stdin, in one write; writes of all threads are serialized."""
        line = b"".join(
            json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for message in messages
        )
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise PluginError("the plugin is not running")
        with self._write_lock:
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError) as exc:
                raise PluginError(f"the plugin is not running ({exc})") from None

    def _open_session(self) -> _Session:
        if not self.alive:
            raise PluginError(self._death_reason or "the plugin is not running")
        session = _Session(str(uuid.uuid4()))
        with self._sessions_lock:
            self._sessions[session.session_id] = session
        return session

    def _close_session(self, session_id: str) -> None:
        with self._sessions_lock:
            if self._sessions.pop(session_id, None) is not None:
                self._closed_sessions[session_id] = 0

    def backwards_after_close(self, response: PluginResponse) -> int:
        """How many answers to the plugin's calls were sent for ``response``'s session after it was closed (the
        daemon sends none: it drops a session whose client went away)."""
        with self._sessions_lock:
            return self._closed_sessions.get(response.session_id, 0)

    def _session(self, session_id: str | None) -> _Session | None:
        with self._sessions_lock:
            return self._sessions.get(session_id or "")

    def _fail_sessions(self, reason: str) -> None:
        with self._sessions_lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.put("gone", reason)

    def _log(self, line: str) -> None:
        self.recent_logs.append(line)
        if self.on_log:
            with contextlib.suppress(Exception):  # a broken callback must not stop the reader threads
                self.on_log(line)

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout: IO[bytes] = self._proc.stdout
        try:
            while True:
                raw = stdout.readline(MAX_LINE_BYTES)
                if not raw:
                    break
                self.max_line_bytes = max(self.max_line_bytes, len(raw) - raw.endswith(b"\n"))
                if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    self._death_reason = "the plugin wrote a stdout line of 5 MiB or more; killed, as the daemon does"
                    self._log(self._death_reason)
                    self._proc.kill()
                    break
                line = raw.strip()
                if line:
                    self._handle_line(line)
        except (OSError, ValueError):
            pass
        finally:
            self._stdout_closed.set()
            try:
                code: int | None = self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                code = None
            self._death_reason = self._death_reason or f"the plugin process exited (code {code})"
            self._fail_sessions(self._death_reason)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        try:
            for raw in self._proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._stderr_tail.append(line)
                    self._log(f"stderr: {line}")
        except (OSError, ValueError):
            pass

    def _handle_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            self._log(line.decode("utf-8", "replace"))
            return
        if not isinstance(message, dict):
            self._log(line.decode("utf-8", "replace"))
            return
        event = message.get("event")
        if event is None and self.manifest is None:
            self.manifest = message
            self.manifest_at = time.perf_counter()
            self._manifest_seen.set()
        elif event == "heartbeat":
            self._heartbeat_seen.set()
        elif event == "log":
            data = message.get("data") or {}
            self._log(f"{data.get('level', 'INFO')}: {data.get('message', '')}")
        elif event == "error":
            self._log(f"ERROR: {json.dumps(message.get('data'), ensure_ascii=False)}")
        elif event == "session":
            self._handle_session_message(message.get("session_id"), message.get("data") or {})

    def _handle_session_message(self, session_id: str | None, data: Mapping[str, Any]) -> None:
        session = self._session(session_id)
        if session is None:
            return  # the daemon drops messages of sessions nobody listens to any more
        kind = data.get("type")
        payload = data.get("data")
        if kind == "stream" and isinstance(payload, dict):
            if payload.get("status") is not None:
                headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
                session.put("head", (int(payload["status"]), headers))
            if payload.get("result") is not None:
                session.put("chunk", binascii.unhexlify(payload["result"]))
        elif kind == "invoke" and isinstance(payload, dict):
            self._spawn(self._answer_invoke, "backwards", session.session_id, payload)
        elif kind == "error":
            session.put("error", payload)
            self._close_session(session.session_id)
        elif kind == "end":
            session.put("end")
            self._close_session(session.session_id)

    # -- backwards invocations ---------------------------------------------------------------------------------

    def _answer_invoke(self, session_id: str, payload: Mapping[str, Any]) -> None:
        """Answer one ``session.app`` call of the plugin; ends with an ``end`` event unless its client went away."""
        request_id = str(payload.get("backwards_request_id", ""))
        invoke_type = payload.get("type")
        request = dict(payload.get("request") or {})
        try:
            if invoke_type == "upload_file":  # no permission needed: Dify signs an upload URL for any plugin
                self._backwards(session_id, request_id, "response", "struct", self.files.sign_upload(request))
            elif invoke_type == "storage":
                data = self.storage.answer(request, self._storage_quota())
                self._backwards(session_id, request_id, "response", "struct", data)
            elif invoke_type not in ("app", "fetch_app"):
                raise _Unsupported(f"unsupported invoke type: {invoke_type}")
            elif not self._app_permission():
                raise _Unsupported(APP_PERMISSION_DENIED)
            elif invoke_type == "app":
                self._stream_app(session_id, request_id, request)
            else:
                try:
                    result = self.apps.fetch_app(str(request.get("app_id", "")))
                except DifyError:
                    raise _Unsupported(FETCH_APP_FAILED) from None
                self._backwards(session_id, request_id, "response", "struct", as_relayed(result))
        except _ClientGone:
            return  # the daemon cancelled the call and dropped the session: nothing more reaches the plugin
        except (_Unsupported, StorageError) as exc:
            self._backwards(session_id, request_id, "error", str(exc), None)
        except Exception as exc:
            self._backwards(session_id, request_id, "error", str(exc) or type(exc).__name__, None)
        self._backwards(session_id, request_id, "end", "", None)

    def _stream_app(self, session_id: str, request_id: str, request: dict[str, Any]) -> None:
        """Relay an app's events until it ends, fails, or the read timeout closes it as the daemon does.

        The backend runs on its own thread so that a silent app cannot hold the deadline back; when the deadline
        passes, the app is left to finish alone, as Dify keeps running a run whose reader went away.

        When the HTTP client goes away, the daemon cancels the session's context, which aborts its call to Dify
        and drops the session (``service/endpoint.go``, ``session.propagateTraceContext``, ``io_tunnel``): the
        plugin is told nothing, its app stream just stops. Raises ``_ClientGone`` then.
        """
        items: queue.Queue[tuple[str, Any]] = queue.Queue()

        def produce() -> None:
            try:
                for event in self.apps.invoke_app(request):
                    items.put(("event", event))
                items.put(("end", None))
            except BaseException as exc:  # handed over to the answering thread, which words it
                items.put(("error", exc))

        threading.Thread(target=produce, name="dify-app", daemon=True).start()
        deadline: float | None = None
        pending: tuple[str, Any] | None = None
        while True:
            wait = _CLIENT_CHECK if deadline is None else min(_CLIENT_CHECK, max(0.0, deadline - time.monotonic()))
            try:
                kind, value = pending or items.get(timeout=wait)
            except queue.Empty:
                kind, value = "quiet", None
            pending = None
            if self._session(session_id) is None:
                raise _ClientGone
            if kind == "quiet":
                if deadline is None or time.monotonic() < deadline:
                    continue
                kind = "timeout"
            if kind == "event" and deadline is not None and time.monotonic() >= deadline:
                kind = "timeout"
            if kind == "timeout":
                self._backwards(session_id, request_id, "error", APP_READ_TIMEOUT_ERROR, None)
                return
            if kind == "end":
                return
            if kind == "error":
                started = deadline is not None
                if isinstance(value, DifyError):
                    message = dify_error_message("app", value, started)
                else:  # the daemon's own failure to reach Dify (a Go transport error), wrapped at its call site
                    message = f"{'read' if started else 'invoke'} app failed: {str(value) or type(value).__name__}"
                self._backwards(session_id, request_id, "error", message, None)
                return
            if deadline is None:  # the body's timer starts once Dify's answer has begun
                deadline = time.monotonic() + self.app_read_timeout
            # Events Dify has already sent go to the plugin in one write, as they would reach it through the
            # daemon's pipe when Dify is fast (a burst), each still its own message.
            ready = [value]
            while len(ready) < _BURST:
                try:
                    kind, value = items.get_nowait()
                except queue.Empty:
                    break
                if kind != "event":
                    pending = (kind, value)  # an end or an error after the burst: handled next round
                    break
                ready.append(value)
            self._backwards_many(session_id, request_id, [("response", "stream", as_relayed(e)) for e in ready])

    def _backwards(self, session_id: str, request_id: str, event: str, message: str, data: Any) -> None:
        self._backwards_many(session_id, request_id, [(event, message, data)])

    def _backwards_many(self, session_id: str, request_id: str, answers: list[tuple[str, str, Any]]) -> None:
        """Answers to one of the plugin's calls, as (event, message, data), one message each, written together."""
        with self._sessions_lock:
            if session_id in self._closed_sessions:
                self._closed_sessions[session_id] += len(answers)
        messages = [
            self._envelope(
                session_id,
                "backwards_response",
                {"backwards_request_id": request_id, "event": event, "message": message, "data": data},
            )
            for event, message, data in answers
        ]
        # If the plugin died meanwhile, its open requests are failed by the stdout reader.
        with contextlib.suppress(PluginError):
            self._send(*messages)

    def _storage_quota(self) -> int | None:
        """The manifest's storage size in bytes, or ``None`` when storage is not enabled."""
        permission = ((self.manifest or {}).get("resource") or {}).get("permission") or {}
        storage = permission.get("storage") or {}
        return int(storage.get("size") or 0) if storage.get("enabled") else None

    def _app_permission(self) -> bool:
        permission = ((self.manifest or {}).get("resource") or {}).get("permission") or {}
        return bool((permission.get("app") or {}).get("enabled"))


def dify_error_message(invoke_type: Any, error: DifyError, started: bool) -> str:
    """A Dify error as the daemon words it for the plugin.

    Dify refuses a call it cannot start with an HTTP error and a JSON body, which ``RequestAndParseStream``
    quotes whole (``pkg/utils/http_requests/http_warpper.go``), body newline included; an error once the stream
    runs comes as a ``{"error"}`` item, which the daemon wraps in its call-site names (``calldify/http_request.go``
    and ``backwards_invocation/task.go``). ``fetch_app`` never quotes anything: see ``FETCH_APP_FAILED``.
    """
    if invoke_type != "app":
        return FETCH_APP_FAILED
    if started:
        return f"read app failed: request failed: {error}"
    return f"invoke app failed: request failed with status code: {error.status} and respond with: {error.body()}"


def as_relayed(value: Any) -> Any:
    """``value`` as the plugin receives it after the daemon's Go round trip.

    The daemon decodes Dify's JSON into ``map[string]any`` and encodes it again with ``encoding/json``: object
    keys come out sorted, and every number was a float64, so an integral value is written without a fraction
    (``2.0`` arrives as ``2``) and integers beyond 2**53 lose precision.
    """
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


def _read_timeout_from_env() -> float:
    raw = os.environ.get(APP_READ_TIMEOUT_ENV, "").strip()
    return int(raw) / 1000 if raw.isdigit() else APP_READ_TIMEOUT


_CLIENT_CHECK = 0.05
"""How often a silent app call looks whether its client is still there (seconds)."""


_BURST = 256
"""App events written to the plugin at once at most."""


class _ClientGone(Exception):
    """The session's HTTP client went away: the daemon has cancelled the app call."""


class _Unsupported(Exception):
    """A backwards call the daemon refuses before reaching Dify; its text is sent as is."""
