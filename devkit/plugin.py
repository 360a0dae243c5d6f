"""Run a plugin directory as a real subprocess and talk to it the way Dify's plugin daemon does (standard library
only, so that a plugin started from the scaffold keeps it).

Dify starts a local plugin as ``python -m main`` with ``INSTALL_METHOD=local`` and speaks newline-framed JSON over
its stdin and stdout. Run so, not imported, the plugin has the SDK's own loader, router, threads and gevent
patching in play: what works here works in Dify. As the daemon (langgenius/dify-plugin-daemon) does:

* stdout: any lines, the manifest JSON (written by the SDK at start), then envelopes ``{"event": "session"|"log"|
  "error"|"heartbeat", "session_id", "data"}``. An instance is ready only at its first heartbeat
  (``internal/core/local_runtime/instance.go``): ``start`` waits for both. A line of 5 MiB or more fails the
  daemon's ``bufio.Scanner``, and it kills the plugin; so do we.
* stdin: one JSON object per line, the request envelope of ``internal/core/session_manager/session.go``; an
  endpoint request carries the endpoint's settings and the raw HTTP request (``build_daemon_request``), in hex.
* the answer: a ``stream`` message with status and headers, one per body chunk (hex), then ``end``; or ``error``.
* the plugin's calls back (``invoke``: apps, storage, uploads) go to ``answer_call``, which refuses them here (no
  Dify behind this runner); ``devkit.daemon.process`` answers them as Dify would (demo apps, in-memory storage).
"""

import binascii
import collections
import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn, Self
from urllib.parse import quote, quote_plus, unquote, unquote_to_bytes

DEFAULT_HOOK_ID = "5f1c9b3e8a7d4c2e9b6a0d1f3e5c7a9b"  # Dify's hook ids are 32 hex characters too
DEFAULT_ENDPOINT_ID = "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a"  # the endpoint's id in Dify's DB: session.endpoint_id
MAX_LINE_BYTES = 5 * 1024 * 1024  # PLUGIN_RUNTIME_MAX_BUFFER_SIZE: the daemon's scanner fails on a line this long
NO_DIFY = "{kind} calls need Dify: this local runner answers endpoint requests only"  # see answer_call
MAX_BODY_BYTES = 10 * 1024 * 1024  # copyRequest's io.LimitReader(req.Body, 10*1024*1024): the rest is dropped
HeaderItems = Mapping[str, str] | Iterable[tuple[str, str]]

# The "ip traces" copyRequest deletes, canonicalized (and X-Original-Host, read first: it names the host).
_STRIPPED = ("X-Forwarded-For", "X-Real-Ip", "X-Forwarded", "X-Original-Forwarded-For", "X-Original-Url")
# Go's http.Request.Write writes these itself (or never), whatever the header map holds.
_WRITTEN_SEPARATELY = frozenset({"Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer"})
# requestMethodUsuallyLacksBody in net/http: an empty body of these is dropped instead of sent chunked.
_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def build_daemon_request(
    method: str,
    target: str,
    *,
    headers: HeaderItems | None = None,
    body: bytes = b"",
    hook_id: str,
    host: str = "localhost",
) -> bytes:
    """The raw request the daemon hands the plugin for ``METHOD /e/<hook_id><target>``; ``host`` if no ``Host``.

    The daemon (``internal/service/endpoint.go`` ``copyRequest``) clones the request, changes a few things and
    writes it with Go's ``http.Request.Write``; the plugin parses those bytes
    (``dify_plugin.core.utils.http_parser.deserialize_request``). So, as there:

    * the path is the part after ``/e/<hook_id>``, percent-decoded and re-escaped by Go's rules;
    * the query string is re-encoded by ``url.Values.Encode`` (``normalize_query``);
    * the body is cut at 10 MiB without an error and ``Content-Length`` says what was kept;
    * an *empty* POST or PUT body goes out as ``Transfer-Encoding: chunked`` with the terminating ``0\\r\\n\\r\\n``
      (Go cannot tell an empty ``io.Reader`` from an unknown one): the SDK's parser hands the plugin those 5 bytes;
    * ``_STRIPPED`` and ``X-Original-Host`` go (``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``Forwarded`` stay);
    * ``Dify-Hook-Id`` is set, ``Dify-Hook-Url`` only when absent (Dify's nginx always sends one, see
      ``devkit.daemon.http.nginx_headers``), from the *decoded* path: a ``%0A`` in the path is a newline there;
    * header names are canonicalized and sorted after ``Host`` and ``User-Agent`` (``Go-http-client/1.1`` when the
      client sent none), each value as ``go_header_value`` writes it.
    """
    raw_path, _, query = target.partition("?")
    path = "/" + unquote(raw_path).removeprefix("/")
    merged: dict[str, list[str]] = {}
    for name, value in header_items(headers):
        merged.setdefault(canonical_header_key(name), []).append(value)
    sent_host = merged.pop("Host", [host])[0]
    host = merged.pop("X-Original-Host", [""])[0] or sent_host
    for name in _STRIPPED:
        merged.pop(name, None)
    merged["Dify-Hook-Id"] = [hook_id]
    if not merged.get("Dify-Hook-Url", [""])[0]:
        scheme = "https" if merged.get("X-Forwarded-Proto", [""])[0] == "https" else "http"
        merged["Dify-Hook-Url"] = [f"{scheme}://{host}/e/{hook_id}{path}"]

    # Go's http.Request.Write, for a body that is an in-memory buffer of len(body) bytes; the path is escaped as
    # url.URL.EscapedPath escapes a path just assigned (newReq.URL.Path = path).
    method = method.upper()
    payload = body[:MAX_BODY_BYTES]
    encoded_query = normalize_query(query)
    request_target = quote(path, safe="/$&+,:;=@") + (f"?{encoded_query}" if encoded_query else "")
    user_agent = go_header_value(merged["User-Agent"][0]) if "User-Agent" in merged else "Go-http-client/1.1"
    lines = [f"{method} {request_target} HTTP/1.1", f"Host: {host}", f"User-Agent: {user_agent}"]
    if payload:
        lines.append(f"Content-Length: {len(payload)}")
    elif method not in _METHODS_WITHOUT_BODY:
        lines.append("Transfer-Encoding: chunked")
        payload = b"0\r\n\r\n"
    elif method not in ("GET", "HEAD"):
        lines.append("Content-Length: 0")
    for name in sorted(merged.keys() - _WRITTEN_SEPARATELY):
        lines.extend(f"{name}: {go_header_value(value)}" for value in merged[name])
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + payload


def canonical_header_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-type`` -> ``Content-Type``; odd names untouched."""
    if not _TOKEN.match(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_items(headers: HeaderItems | None) -> list[tuple[str, str]]:
    """Headers as (name, value) pairs, from a mapping or from pairs (which keep repeated names)."""
    return [(str(k), str(v)) for k, v in (headers.items() if isinstance(headers, Mapping) else headers or ())]


def normalize_query(query: str) -> str:
    """``req.URL.Query().Encode()``: keys sorted, ``+`` for spaces, pairs holding ``;`` or a bad escape dropped."""
    pairs: list[tuple[bytes, bytes]] = []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if part and ";" not in part and not _BAD_ESCAPE.search(part):
            pairs.append((unquote_to_bytes(key.replace("+", " ")), unquote_to_bytes(value.replace("+", " "))))
    pairs.sort(key=lambda pair: pair[0])  # stable: values of one key keep their order, as in Go
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pairs)


def go_header_value(value: str) -> str:
    """As Go's ``Header.write`` writes a value: CR and LF become spaces, the ends are trimmed (no broken framing)."""
    return value.replace("\n", " ").replace("\r", " ").strip(" \t\r\n")


class PluginError(Exception):
    """The plugin could not answer: it sent a session error, ended without a response, died, or timed out."""

    def __init__(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = dict(data) if data else None  # the plugin's error payload (error_type, message, args), if sent


class _Session:
    """Messages of one request, in arrival order, each stamped with ``time.monotonic()`` on arrival."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.items: queue.Queue[tuple[str, Any, float]] = queue.Queue()
        self._held: tuple[str, Any, float] | None = None

    def put(self, kind: str, value: Any = None) -> None:
        self.items.put((kind, value, time.monotonic()))

    def get(self, timeout: float) -> tuple[str, Any, float]:
        if not self.wait(timeout):
            raise PluginError(f"the plugin sent nothing for {timeout:g} s")
        held, self._held = self._held, None
        assert held is not None
        return held

    def wait(self, timeout: float) -> bool:
        """Whether a message came within ``timeout`` seconds (it stays for ``get``)."""
        if self._held is None:
            with contextlib.suppress(queue.Empty):
                self._held = self.items.get(timeout=timeout)
        return self._held is not None


class PluginResponse:
    """The plugin's answer to one request: status and headers at once, the body as it streams in."""

    def __init__(self, session: _Session, status: int, headers: dict[str, str], close: Callable[[], None]) -> None:
        self.status = status
        self.headers = headers
        self.session_id = session.session_id
        self.error: str | None = None  # the plugin's session ``error`` message, if one came after the response began
        self.error_data: dict[str, Any] | None = None  # its whole payload (error_type, message, args: the traceback)
        self.chunk_sizes: list[int] = []
        self.chunk_times: list[float] = []  # time.monotonic() at which each chunk reached this process
        self._session = session
        self._close = close
        self._body = bytearray()
        self._finished = False

    def wait(self, timeout: float) -> bool:
        """Whether the plugin said something more (a chunk, its end, an error) within ``timeout`` seconds."""
        return self._finished or self._session.wait(timeout)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A response header, matched case-insensitively."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), default)

    def chunks(self, timeout: float = 60) -> Iterator[bytes]:
        """Yield each non-empty body chunk (the daemon writes nothing for empty ones) the moment it arrives, until the
        session's end or error; ``timeout`` bounds each wait, after which a silent plugin raises ``PluginError``."""
        try:
            while not self._finished:
                kind, value, arrived = self._session.get(timeout)
                if kind == "chunk" and value:
                    self._body.extend(value)
                    self.chunk_sizes.append(len(value))
                    self.chunk_times.append(arrived)
                    yield value
                elif kind == "error":
                    self.error_data = dict(value or {})
                    self.error = str(self.error_data.get("message") or "the plugin failed")
                elif kind == "gone":
                    self.error = str(value)
                if kind in ("error", "gone", "end"):
                    self.close()
        except PluginError:
            self.close()
            raise

    def read(self, timeout: float = 60) -> bytes:
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
        if not self._finished:
            self._finished = True
            self._close()


class Plugin:
    """One plugin subprocess, driven over stdio like Dify's daemon drives it."""

    def __init__(
        self,
        plugin_dir: Path,
        *,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        on_log: Callable[[str], None] | None = None,
        public_host: str = "localhost",
    ) -> None:
        self.plugin_dir = Path(plugin_dir)
        self.python = python
        self.env = dict(env or {})
        self.on_log = on_log
        self.max_line_bytes = 0  # the longest stdout line so far, without its newline (see MAX_LINE_BYTES)
        self.endpoint_id = DEFAULT_ENDPOINT_ID
        self.public_host = public_host  # the host of requests that carry no Host header
        self.manifest: dict[str, Any] | None = None
        self.manifest_at: float | None = None  # time.perf_counter() when the manifest came: ready from then on
        # The plugin's last log lines (stdout logs, non-JSON lines, stderr), for error messages.
        self.recent_logs: collections.deque[str] = collections.deque(maxlen=200)
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_lock = threading.Lock()
        self._sessions_lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._closed_sessions: dict[str, int] = {}  # session id -> answers sent after it closed
        self._manifest_seen = threading.Event()
        self._heartbeat_seen = threading.Event()
        self._stdout_closed = threading.Event()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._threads: list[threading.Thread] = []
        self._death_reason: str | None = None

    def start(self, timeout: float = 60) -> dict[str, Any]:
        """Start the plugin and wait until it is ready (manifest and first heartbeat); return the manifest."""
        if self._proc is not None:
            raise RuntimeError("this PluginProcess was already started; create a new one to restart")
        self._proc = subprocess.Popen(
            [self.python, "-m", "main"],
            cwd=self.plugin_dir,
            env={**os.environ, **self.env, "INSTALL_METHOD": "local", "PYTHONUNBUFFERED": "1"},
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
        """Close stdin (not enough alone: the SDK's stdin reader loops on an empty read), terminate, kill if still
        running after ``timeout``; fail every open request."""
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

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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
        """Send ``METHOD /e/<hook_id><path>`` (``path`` with its query string) in the daemon's bytes; return once
        status and headers are in. ``PluginError``: a session error, no response, death, or ``timeout`` s of silence."""
        raw = build_daemon_request(method, path, headers=headers, body=body, hook_id=hook_id, host=self.public_host)
        return self.send_raw(raw, settings, timeout=timeout)

    def send_raw(
        self, raw_http_request: bytes, settings: Mapping[str, Any] | None = None, *, timeout: float = 60
    ) -> PluginResponse:
        """Send an already serialized HTTP request, unchanged, as one endpoint invocation."""
        if not self.alive:
            raise PluginError(self._death_reason or "the plugin is not running")
        session = _Session(str(uuid.uuid4()))
        with self._sessions_lock:
            self._sessions[session.session_id] = session
        request = {"user_id": "", "type": "endpoint", "action": "invoke_endpoint"}
        request |= {"raw_http_request": binascii.hexlify(raw_http_request).decode(), "settings": dict(settings or {})}
        try:
            self._send(self._envelope(session.session_id, "request", request))
            kind, value, _ = session.get(timeout)
            if kind == "head":
                return PluginResponse(session, *value, lambda: self._close_session(session.session_id))
            if kind == "error":
                raise PluginError(str((value or {}).get("message") or "the plugin failed"), value)
            raise PluginError(str(value) if kind == "gone" else "the plugin ended the request without a response")
        except BaseException:
            self._close_session(session.session_id)
            raise

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"plugin-{name}", daemon=True)
        thread.start()
        if name in ("stdout", "stderr"):
            self._threads.append(thread)

    def _envelope(self, session_id: str, event: str, data: Any) -> dict[str, Any]:
        ids = {"session_id": session_id, "conversation_id": None, "message_id": None, "app_id": None}
        return ids | {"endpoint_id": self.endpoint_id, "context": None, "event": event, "data": data}

    def _send(self, *messages: Mapping[str, Any]) -> None:
        """Write JSON lines to the plugin's stdin, in one write; writes of all threads are serialized."""
        line = b"".join(json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for m in messages)
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise PluginError("the plugin is not running")
        with self._write_lock:
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError) as exc:
                raise PluginError(f"the plugin is not running ({exc})") from None

    def _close_session(self, session_id: str) -> None:
        with self._sessions_lock:
            if self._sessions.pop(session_id, None) is not None:
                self._closed_sessions[session_id] = 0

    def backwards_after_close(self, response: PluginResponse) -> int:
        """Answers to the plugin's calls sent after ``response``'s session closed (the daemon sends none: it drops
        a session whose client left)."""
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
        try:
            while raw := self._proc.stdout.readline(MAX_LINE_BYTES):
                self.max_line_bytes = max(self.max_line_bytes, len(raw) - raw.endswith(b"\n"))
                if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    self._death_reason = "the plugin wrote a stdout line of 5 MiB or more; killed, as the daemon does"
                    self._log(self._death_reason)
                    self._proc.kill()
                    break
                if line := raw.strip():
                    self._handle_line(line)
        except (OSError, ValueError):
            pass
        finally:
            self._stdout_closed.set()
            code: int | None = None
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._proc.wait(timeout=1)
            self._death_reason = self._death_reason or f"the plugin process exited (code {code})"
            self._fail_sessions(self._death_reason)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            for raw in self._proc.stderr:
                if line := raw.decode("utf-8", "replace").rstrip():
                    self._stderr_tail.append(line)
                    self._log(f"stderr: {line}")

    def _handle_line(self, line: bytes) -> None:
        message = None
        with contextlib.suppress(ValueError):
            message = json.loads(line)
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
            self._spawn(self.answer_call, "backwards", session.session_id, payload)
        elif kind in ("error", "end"):
            session.put(kind, payload)
            self._close_session(session.session_id)

    def answer_call(self, session_id: str, payload: Mapping[str, Any]) -> None:
        """Answer one call the plugin makes back to Dify (in its own thread), ending with an ``end`` event. ``Plugin``
        refuses them all in the daemon's shape: the SDK raises an ``Exception`` in the plugin, as if Dify refused."""
        request_id = str(payload.get("backwards_request_id", ""))
        self._backwards(session_id, request_id, "error", NO_DIFY.format(kind=payload.get("type") or "these"), None)
        self._backwards(session_id, request_id, "end", "", None)

    def _backwards(self, session_id: str, request_id: str, event: str, message: str, data: Any) -> None:
        self._backwards_many(session_id, request_id, [(event, message, data)])

    def _backwards_many(self, session_id: str, request_id: str, answers: list[tuple[str, str, Any]]) -> None:
        """Answers to one of the plugin's calls, as (event, message, data), one message each, written together."""
        with self._sessions_lock:
            if session_id in self._closed_sessions:
                self._closed_sessions[session_id] += len(answers)
        fields = [{"backwards_request_id": request_id, "event": e, "message": m, "data": d} for e, m, d in answers]
        messages = [self._envelope(session_id, "backwards_response", answer) for answer in fields]
        # If the plugin died meanwhile, its open requests are failed by the stdout reader.
        with contextlib.suppress(PluginError):
            self._send(*messages)
