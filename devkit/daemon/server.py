"""An HTTP server that plays the HTTP side of Dify's nginx and plugin daemon: ``/e/<hook_id>/<path>`` -> the plugin.

It stands where Dify's nginx and daemon stand, and behaves as they do towards the client and the plugin
(``internal/server/http_server.go``, ``internal/server/endpoint.go``, ``internal/service/endpoint.go``,
``internal/core/io_tunnel/endpoint_service.go`` in langgenius/dify-plugin-daemon; ``docker/nginx/`` in
langgenius/dify):

* nginx first: a NUL byte in the request line or a header, or a ``%00`` in the path, gets nginx's own HTML 400
  and a closed connection; header names with ``_`` are dropped; ``Host``, ``X-Forwarded-Proto`` and
  ``Dify-Hook-Url`` (``$scheme://$host$request_uri``, query string included) are set (``devkit.daemon.http``);
* routes ``/e/<hook_id>/<rest>`` for HEAD, GET, POST, PUT, DELETE and OPTIONS; any other method or path under
  ``/e`` gets the daemon's JSON 404 ``{"code":"not_found","message":"route not found"}``;
* drops hop-by-hop headers, then hands the request to ``devkit.daemon.http`` for the daemon's own rewriting
  (10 MiB body cap, forwarding headers, hook headers);
* answers only once the plugin's *first body chunk* is in (the daemon reads status, headers and that chunk
  together), copies every header the plugin set (first value only), then streams the rest one flush per chunk:
  with ``Transfer-Encoding: chunked``, or, when the plugin set a ``Content-Length``, as a plain body of that
  length (Go's server drops bytes beyond it and closes the connection if the body falls short);
* a plugin failure before that first chunk is the daemon's ``500 {"code": -500, "message": ...}``; after it,
  the daemon appends the error's text to the body, so this server does too;
* ``PLUGIN_MAX_EXECUTION_TIMEOUT`` (600 s) after the first chunk the daemon stops waiting: the status (usually
  200) is long sent, so gin's ``c.JSON(500, ...)`` can only append ``{"code":-500,"message":"{\\"message\\":
  \\"killed by timeout\\",...}","data":null}`` to the body, and the response ends;
* serves many requests at once (a thread each), like the daemon's goroutines.

Deviations, on purpose: any hook id is accepted (there is no endpoint table); paths outside ``/e/`` get a hint
instead of Dify's web app; the part of a body beyond the cap is read and discarded so the client gets its answer
instead of a reset; before the first chunk the wait is bounded by the same execution timeout (the daemon
waits as long as the client does); and when the plugin stops (Ctrl-C, ``close``) or dies while a body streams,
the body ends with an error in the daemon's JSON, ``{"code":-500,"message":"{\\"message\\":\\"the plugin was
stopped\\",...}","data":null}``, on a line of its own, so that an NDJSON client reads one last JSON line rather
than stray text (``close`` gives those requests a moment to write it).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, BinaryIO, Self
from urllib.parse import unquote, urlsplit

from devkit.daemon.http import (
    GIN_JSON,
    MAX_BODY_BYTES,
    NGINX_BAD_REQUEST,
    NOT_FOUND_BODY,
    daemon_error_body,
    nginx_headers,
    plugin_error_text,
)
from devkit.daemon.process import DEFAULT_HOOK_ID, PluginError, PluginResponse, PluginSilent
from devkit.daemon.supervisor import PluginSupervisor

EXECUTION_TIMEOUT = 600.0
"""``PLUGIN_MAX_EXECUTION_TIMEOUT`` of Dify's docker setup (seconds): how long after the plugin's first body chunk
the daemon gives up on a request; ``DevDaemonServer`` reads the variable from the environment when not given."""

EXECUTION_TIMEOUT_ENV = "PLUGIN_MAX_EXECUTION_TIMEOUT"

KILLED_BY_TIMEOUT = daemon_error_body("killed by timeout")
CLIENT_CHECK = 0.25
"""Seconds between two looks at whether a waiting client is still there (the daemon is told at once)."""
"""What the daemon appends to a body when the execution timeout fires (``internal/service/endpoint.go``)."""

DRAIN_LIMIT = 64 * 1024 * 1024
"""Bytes beyond the body cap read and thrown away so the client can finish sending; past that, hang up."""

METHODS = ("HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS")
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
_NOT_RELAYED_BACK = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_ROUTE = re.compile(r"^/e/([^/]+)(/.*)$")
_BARE_HOOK = re.compile(r"^/e/[^/]+$")
_NOT_FOUND = b"404 page not found"


class BadRequestBody(ValueError):
    """The request body's framing is broken (bad Content-Length or chunk size)."""


def read_body(stream: BinaryIO, headers: Message, limit: int = MAX_BODY_BYTES) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes of body; discard the rest. Return the body and whether all of it was read."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        return _read_chunked(stream, limit)
    try:
        length = int(headers.get("Content-Length") or 0)
    except ValueError:
        raise BadRequestBody("bad Content-Length") from None
    if length < 0:
        raise BadRequestBody("bad Content-Length")
    body = stream.read(min(length, limit))
    return body, _discard(stream, length - len(body))


def _discard(stream: BinaryIO, count: int) -> bool:
    if count > DRAIN_LIMIT:
        return False
    while count > 0:
        piece = stream.read(min(count, 1 << 16))
        if not piece:
            return False
        count -= len(piece)
    return True


def _read_chunked(stream: BinaryIO, limit: int) -> tuple[bytes, bool]:
    body = bytearray()
    dropped = 0
    while True:
        line = stream.readline(1024)
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise BadRequestBody("bad chunk size") from None
        if size == 0:
            while stream.readline(1024).strip():  # trailers
                pass
            return bytes(body), True
        keep = max(0, min(size, limit - len(body)))
        body.extend(stream.read(keep))
        dropped += size - keep
        if dropped > DRAIN_LIMIT or not _discard(stream, size - keep):
            return bytes(body), False
        stream.readline(1024)  # the CRLF after the chunk data


def forwardable_headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The client's headers minus the hop-by-hop ones, including any named in ``Connection``."""
    pairs = list(items)
    named = {
        token.strip().lower() for name, value in pairs if name.lower() == "connection" for token in value.split(",")
    }
    return [(name, value) for name, value in pairs if name.lower() not in HOP_BY_HOP | named]


class DaemonHandler(BaseHTTPRequestHandler):
    """One client connection; each request goes to the plugin as one endpoint invocation."""

    protocol_version = "HTTP/1.1"
    server_version = "dify-devkit"
    server: DevDaemonServer

    def do_GET(self) -> None:
        self._relay()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_GET

    def do_PATCH(self) -> None:
        # The daemon routes no PATCH: gin's NoRoute answers, whatever the path.
        if self._refused_by_nginx():
            return
        self._discard_body()
        self._plain(404, NOT_FOUND_BODY, GIN_JSON)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request is written when the answer is complete, see _relay

    def log_message(self, format: str, *args: Any) -> None:
        self.server.console(f"{self.address_string()} {format % args}")

    # -- relaying ----------------------------------------------------------------------------------------------

    def _relay(self) -> None:
        with self.server.in_flight():
            self._relay_one()

    def _relay_one(self) -> None:
        started = time.monotonic()
        if self._refused_by_nginx():
            return
        split = urlsplit(self.path)
        match = _ROUTE.match(split.path)
        if match is None:
            self._discard_body()
            if split.path == "/" and self.command in ("GET", "HEAD") and self.server.index is not None:
                self._plain(200, self.server.index, "text/html; charset=utf-8")
            elif _BARE_HOOK.match(split.path):
                self._redirect_to_slash(split.path, split.query)
            elif split.path == "/e" or split.path.startswith("/e/"):
                self._plain(404, NOT_FOUND_BODY, GIN_JSON)
            else:
                self._plain(404, _NOT_FOUND + b"\n\nPlugin endpoints live under /e/<hook_id>/, e.g. " + self._hint())
            return
        try:
            body, complete = read_body(self.rfile, self.headers)
        except BadRequestBody as exc:
            self.close_connection = True
            self._plain(400, str(exc).encode())
            return
        if not complete:
            self.close_connection = True
        hook_id = unquote(match.group(1))
        target = match.group(2) + (f"?{split.query}" if split.query else "")
        forwarded = forwardable_headers(self.headers.items())
        if self.server.public_host:
            # Dify reached at a public host name: nginx writes it into Dify-Hook-Url, whatever address the
            # client used here (the plugin gives Dify file addresses under it: see PluginProcess.fetch).
            forwarded = [(name, value) for name, value in forwarded if name.lower() != "host"]
            forwarded.append(("Host", self.server.public_host))
        headers = nginx_headers(
            forwarded,
            request_uri=self.path,
            client_ip=self.client_address[0],
            fallback_host=self.server.display_host,
            server_port=self.server.server_port,
        )
        status = self._invoke(hook_id, target, headers, body)
        self.server.console(f'"{self.requestline}" {status} ({time.monotonic() - started:.2f} s)')

    def _client_left(self) -> bool:
        """Whether the client closed its connection: readable with nothing to read (a pipelined request is data)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _redirect_to_slash(self, path: str, query: str) -> None:
        """gin's ``RedirectTrailingSlash``: ``/e/<hook>`` matches the route once a slash is added, so gin redirects
        there, 301 for GET (with Go's ``http.Redirect`` link page) and 307 for the other methods."""
        location = path + "/" + (f"?{query}" if query else "")
        if self.command in ("GET", "HEAD"):
            body = f'<a href="{html.escape(location)}">Moved Permanently</a>.\n\n'.encode()
            self._plain(301, body, "text/html; charset=utf-8", location=location)
        else:
            self._plain(307, b"", "", location=location)

    def _refused_by_nginx(self) -> bool:
        """nginx refuses a NUL byte in the request line or a header, and a ``%00`` in the path, with its 400."""
        path = urlsplit(self.path).path
        raw_headers = "".join(f"{name}{value}" for name, value in self.headers.items())
        if b"\x00" in self.raw_requestline or "\x00" in raw_headers or "\x00" in unquote(path):
            self.close_connection = True
            self._plain(400, NGINX_BAD_REQUEST, "text/html", close=True)
            return True
        return False

    def _invoke(self, hook_id: str, target: str, headers: list[tuple[str, str]], body: bytes) -> int:
        try:
            process = self.server.supervisor.process()
            response = process.request(
                self.command,
                target,
                headers=headers,
                body=body,
                settings=self.server.settings,
                hook_id=hook_id,
                timeout=self.server.max_execution_timeout,
            )
        except PluginError as exc:
            return self._daemon_error(plugin_error_text(exc.data, exc.message))
        try:
            return self._stream(response)
        finally:
            response.close()

    def _stream(self, response: PluginResponse) -> int:
        chunks = response.chunks(timeout=self.server.max_execution_timeout)
        try:
            first = next(chunks, None)
        except PluginError as exc:
            return self._daemon_error(exc.message)
        if first is None and response.error is not None:
            return self._daemon_error(plugin_error_text(response.error_data, response.error))
        # The daemon's timer starts here, once status, headers and the first chunk are in.
        deadline = time.monotonic() + self.server.max_execution_timeout

        has_body = self.command != "HEAD" and response.status >= 200 and response.status not in (204, 304)
        declared = response.header("Content-Length")
        length = int(declared) if declared is not None and declared.strip().isdigit() else None
        body = _Body(self.wfile, length if has_body else None)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() not in _NOT_RELAYED_BACK:
                    self.send_header(name, value)
            if length is not None:
                self.send_header("Content-Length", str(length))
            elif has_body:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if not has_body:
                response.close()
                return response.status
            body.write(first or b"")
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    body.write(KILLED_BY_TIMEOUT)
                    break
                if not response.wait(min(remaining, CLIENT_CHECK)):
                    if self._client_left():
                        # gin's CloseNotify: the daemon returns at once, which drops the session and cancels
                        # the plugin's app call; nothing more is written.
                        self.close_connection = True
                        return response.status
                    continue
                try:
                    chunk = next(response.chunks(timeout=remaining), None)
                except PluginSilent:
                    body.write(KILLED_BY_TIMEOUT)
                    break
                except PluginError as exc:
                    body.write_line(daemon_error_body(exc.message))
                    break
                if chunk is None:
                    if response.error is not None and response.error_data is None:
                        body.write_line(daemon_error_body(response.error))  # the plugin stopped or died
                    elif response.error is not None:
                        body.write(plugin_error_text(response.error_data, response.error).encode())
                    break
                body.write(chunk)
            if not body.finish():
                self.close_connection = True  # Go closes a connection whose body fell short of its length
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; the plugin's later output is dropped
        return response.status

    def _daemon_error(self, message: str) -> int:
        self._plain(500, daemon_error_body(message), "application/json; charset=utf-8")
        return 500

    def _plain(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        close: bool = False,
        location: str | None = None,
    ) -> None:
        try:
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _discard_body(self) -> None:
        try:
            _, complete = read_body(self.rfile, self.headers, limit=0)
        except BadRequestBody:
            complete = False
        if not complete:
            self.close_connection = True

    def _hint(self) -> bytes:
        return f"{self.server.endpoint_url}/chat/<app_id>?query=Hello\n".encode()


class DevDaemonServer(ThreadingHTTPServer):
    """The devkit's daemon stand-in; usable from tests (port 0, ``serve_in_background``, ``close``)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        supervisor: PluginSupervisor,
        *,
        settings: Mapping[str, Any] | None = None,
        hook_id: str = DEFAULT_HOOK_ID,
        console: Callable[[str], None] | None = None,
        max_execution_timeout: float | None = None,
    ) -> None:
        """``max_execution_timeout`` (seconds) defaults to ``PLUGIN_MAX_EXECUTION_TIMEOUT`` from the environment,
        else 600."""
        super().__init__(address, DaemonHandler)
        self.max_execution_timeout = (
            max_execution_timeout if max_execution_timeout is not None else _execution_timeout_from_env()
        )
        self.supervisor = supervisor
        self.settings = dict(settings or {})
        self.hook_id = hook_id
        self.console = console or _stderr_console
        self._thread: threading.Thread | None = None
        self.public_host: str | None = None
        """The host name Dify is reached at, as nginx would see it (``None``: the one the client used)."""
        self.index: bytes | None = None
        """The html page ``GET /`` answers (``make run`` sets it: the demo's links); ``None``: a 404 like any path."""
        self._requests = 0
        self._requests_done = threading.Condition()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its connection is ordinary (Go's server says nothing of it); any other failure of a
        connection gets one line, not socketserver's traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        self.console(f"a request from {client_address[0]} failed: {type(exc).__name__}: {exc}")

    @property
    def display_host(self) -> str:
        """The host to put in links: a wildcard bind address is reachable as 127.0.0.1."""
        host = str(self.server_address[0])
        return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - compared, not bound

    @property
    def url(self) -> str:
        return f"http://{self.display_host}:{self.server_port}"

    @property
    def endpoint_url(self) -> str:
        """Where the plugin's paths start, as Dify shows it: ``http://host:port/e/<hook_id>``."""
        return f"{self.url}/e/{self.hook_id}"

    def serve_in_background(self) -> threading.Thread:
        """Serve from a daemon thread (tests); ``close`` stops it."""
        # A short poll: ``shutdown`` waits for the loop's next look, 0.5 s by default, at every close.
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="devkit-server", daemon=True)
        self._thread.start()
        return self._thread

    def close(self, drain: float = 3.0) -> None:
        """Stop serving, close the socket and stop the plugin; then give the requests it cut ``drain`` seconds to
        write their last line (the daemon's error JSON) and end their bodies properly."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()
        self.supervisor.stop()
        deadline = time.monotonic() + drain
        with self._requests_done:
            while self._requests and (left := deadline - time.monotonic()) > 0:
                self._requests_done.wait(left)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Counts a request from its first byte read to its last byte written (``close`` waits for them)."""
        with self._requests_done:
            self._requests += 1
        try:
            yield
        finally:
            with self._requests_done:
                self._requests -= 1
                self._requests_done.notify_all()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class _Body:
    """Writes a response body as Go's server does: chunked, or cut to the plugin's ``Content-Length``."""

    def __init__(self, out: BinaryIO, length: int | None) -> None:
        self._out = out
        self._length = length
        self._written = 0
        self._last = b""

    def write_line(self, data: bytes) -> None:
        """``data`` on a line of its own: after a newline if the body does not end with one, then a newline."""
        self.write((b"\n" if self._last not in (b"", b"\n") else b"") + data + b"\n")

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._last = data[-1:]
        if self._length is None:
            self._out.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            data = data[: max(0, self._length - self._written)]
            self._out.write(data)
        self._written += len(data)
        self._out.flush()

    def finish(self) -> bool:
        """End the body; False when a declared length was not reached (the connection must then close)."""
        if self._length is None:
            self._out.write(b"0\r\n\r\n")
            return True
        return self._written == self._length


def _execution_timeout_from_env() -> float:
    raw = os.environ.get(EXECUTION_TIMEOUT_ENV, "").strip()
    try:
        return float(raw) if raw else EXECUTION_TIMEOUT
    except ValueError:
        return EXECUTION_TIMEOUT


_console_lock = threading.Lock()


def _stderr_console(line: str) -> None:
    with _console_lock:
        print(f"[devkit] {line}", file=sys.stderr, flush=True)
