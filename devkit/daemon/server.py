"""An HTTP server that plays the HTTP side of Dify's nginx and plugin daemon: ``/e/<hook_id>/<path>`` -> the plugin.

It stands where Dify's nginx and daemon stand, and behaves as they do towards the client and the plugin
(``internal/server/http_server.go``, ``internal/server/endpoint.go``, ``internal/service/endpoint.go``,
``internal/core/io_tunnel/endpoint_service.go`` in langgenius/dify-plugin-daemon; ``docker/nginx/`` in
langgenius/dify), serving many requests at once (a thread each, like the daemon's goroutines).

Deviations, on purpose, each explained where it is made: any hook id is accepted (there is no endpoint table),
paths outside ``/e/`` get a hint instead of Dify's web app, a body beyond the cap is drained rather than reset, the
wait for the first chunk is bounded, and a body cut by the plugin stopping or dying ends with the daemon's JSON.
"""

from __future__ import annotations

import contextlib
import html
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from email.message import Message
from http.server import ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from devkit.daemon.http import (
    GIN_JSON,
    NGINX_BAD_REQUEST,
    NOT_FOUND_BODY,
    daemon_error_body,
    nginx_headers,
    plugin_error_text,
)
from devkit.daemon.process import seconds_from_env
from devkit.daemon.supervisor import PluginSupervisor
from devkit.local import EXECUTION_TIMEOUT, NOT_RELAYED, TEXT, PlainHandler
from devkit.plugin import DEFAULT_HOOK_ID, MAX_BODY_BYTES, PluginError

EXECUTION_TIMEOUT_ENV = "PLUGIN_MAX_EXECUTION_TIMEOUT"
"""Where ``DevDaemonServer`` reads its ``EXECUTION_TIMEOUT`` when it is not given one, as the daemon does."""

KILLED_BY_TIMEOUT = daemon_error_body("killed by timeout")
"""What the daemon appends to a body when the execution timeout fires (``internal/service/endpoint.go``): the
status (usually 200) is long sent, so gin's ``c.JSON(500, ...)`` can only add to the body, and the response ends."""

CLIENT_CHECK = 0.25
"""Seconds between two looks at whether a waiting client is still there (the daemon is told at once)."""

DRAIN_LIMIT = 64 * 1024 * 1024
"""Bytes beyond the body cap read and thrown away, so that the client can finish sending and gets its answer instead
of a reset; past that, hang up."""

_ROUTE = re.compile(r"^/e/([^/]+)(/.*)?$")
_HINT = "404 page not found\n\nPlugin endpoints live under /e/<hook_id>/, e.g. {}/chat/<app_id>?query=Hello\n"
_JSON = ("Content-Type", GIN_JSON)
_HTML = ("Content-Type", "text/html; charset=utf-8")


def _read_body(stream: BinaryIO, headers: Message, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of body, the rest read and thrown away, and whether all of it was read; raises
    ``ValueError`` when the framing is broken."""
    if "chunked" not in (headers.get("Transfer-Encoding") or "").lower():
        declared = (headers.get("Content-Length") or "0").strip()
        if not declared.isdecimal():
            raise ValueError("bad Content-Length")
        body = stream.read(min(int(declared), limit))
        return body, _discard(stream, int(declared) - len(body))
    body = bytearray()
    dropped = 0
    while True:
        try:
            size = int(stream.readline(1024).split(b";")[0], 16)
        except ValueError:
            raise ValueError("bad chunk size") from None
        if size == 0:
            break
        keep = max(0, min(size, limit - len(body)))
        body += stream.read(keep)
        dropped += size - keep
        if dropped > DRAIN_LIMIT or not _discard(stream, size - keep):
            return bytes(body), False
        stream.readline(1024)  # the CRLF after the chunk data
    while stream.readline(1024).strip():  # trailers
        pass
    return bytes(body), True


def _discard(stream: BinaryIO, count: int) -> bool:
    while 0 < count <= DRAIN_LIMIT and (piece := stream.read(min(count, 1 << 16))):
        count -= len(piece)
    return count == 0


class DaemonHandler(PlainHandler):
    """One client connection; each request goes to the plugin as one endpoint invocation."""

    server_version = "dify-devkit"
    server: DevDaemonServer

    def do_GET(self) -> None:
        with self.server.in_flight():
            self._relay()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request is written when the answer is complete, see _relay

    def log_message(self, format: str, *args: Any) -> None:
        self.server.console(f"{self.address_string()} {format % args}")

    def _relay(self) -> None:
        """Route ``/e/<hook_id>/<rest>`` for HEAD, GET, POST, PUT, DELETE and OPTIONS to the plugin, once nginx has
        had its say; any other method or path under ``/e`` gets the daemon's JSON 404."""
        started = time.monotonic()
        split = urlsplit(self.path)
        raw_headers = "".join(f"{name}{value}" for name, value in self.headers.items())
        if b"\x00" in self.raw_requestline or "\x00" in raw_headers or "\x00" in unquote(split.path):
            # nginx refuses a NUL byte in the request line or a header, and a %00 in the path, with its own 400.
            self._plain(400, NGINX_BAD_REQUEST, ("Content-Type", "text/html"), ("Connection", "close"))
            return
        # The daemon routes no PATCH: gin's NoRoute answers, whatever the path.
        route = _ROUTE.match(split.path) if self.command != "PATCH" else None
        relayed = route is not None and route.group(2) is not None
        try:
            body, complete = _read_body(self.rfile, self.headers, MAX_BODY_BYTES if relayed else 0)
        except ValueError as exc:
            self.close_connection = True
            self._plain(400, str(exc).encode(), TEXT)
            return
        if not complete:
            self.close_connection = True
        query = f"?{split.query}" if split.query else ""
        if route is None:
            if self.command == "PATCH" or (split.path + "/").startswith("/e/"):
                self._plain(404, NOT_FOUND_BODY, _JSON)
            elif split.path == "/" and self.command in ("GET", "HEAD") and self.server.index is not None:
                self._plain(200, self.server.index, _HTML)
            else:
                self._plain(404, _HINT.format(self.server.endpoint_url).encode(), TEXT)
        elif not relayed:
            # gin's RedirectTrailingSlash: /e/<hook> matches the route once a slash is added, so gin redirects
            # there, 301 for GET (with Go's http.Redirect link page) and 307 for the other methods.
            location = split.path + "/" + query
            if self.command in ("GET", "HEAD"):
                page = f'<a href="{html.escape(location)}">Moved Permanently</a>.\n\n'.encode()
                self._plain(301, page, ("Location", location), _HTML)
            else:
                self._plain(307, b"", ("Location", location))
        else:
            headers = nginx_headers(
                self.headers.items(),
                request_uri=self.path,
                client_ip=self.client_address[0],
                fallback_host=self.server.display_host,
                # The plugin gives Dify file addresses under the public host: see PluginProcess.fetch.
                public_host=self.server.public_host,
                server_port=self.server.server_port,
            )
            status = self._invoke(unquote(route.group(1)), route.group(2) + query, headers, body)
            self.server.console(f'"{self.requestline}" {status} ({time.monotonic() - started:.2f} s)')

    def _client_left(self) -> bool:
        """Whether the client closed its connection: readable with nothing to read (a pipelined request is data)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _invoke(self, hook_id: str, target: str, headers: list[tuple[str, str]], body: bytes) -> int:
        """Answer only once the plugin's first body chunk is in (the daemon reads status, headers and that chunk
        together): a plugin failure before it is the daemon's ``500 {"code": -500, "message": ...}``. Then copy
        every header the plugin set (first value only) and stream its body one flush per chunk, framed by
        ``_Body``, until the plugin ends, fails (the daemon appends the error's text to the body), or
        ``max_execution_timeout`` after the first chunk (the daemon appends ``KILLED_BY_TIMEOUT``)."""
        timeout = self.server.max_execution_timeout  # also bounds the wait for the first chunk (the daemon's does not)
        try:
            response = self.server.supervisor.process().request(
                self.command,
                target,
                headers=headers,
                body=body,
                settings=self.server.settings,
                hook_id=hook_id,
                timeout=timeout,
            )
            first = next(response.chunks(timeout=timeout), None)  # a failure here has closed the response
            if first is None and response.error is not None:
                raise PluginError(response.error, response.error_data)
        except PluginError as exc:
            self._plain(500, daemon_error_body(plugin_error_text(exc.data, exc.message)), _JSON)
            return 500
        deadline = time.monotonic() + timeout  # the daemon's timer starts at the first chunk
        has_body = self.command != "HEAD" and response.status >= 200 and response.status not in (204, 304)
        declared = response.header("Content-Length")
        length = int(declared) if declared is not None and declared.strip().isdigit() else None
        body = _Body(self.wfile, length if has_body else None)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() not in NOT_RELAYED:
                    self.send_header(name, value)
            if length is not None:
                self.send_header("Content-Length", str(length))
            elif has_body:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if not has_body:
                return response.status
            body.write(first or b"")
            while (remaining := deadline - time.monotonic()) > 0:
                if not response.wait(min(remaining, CLIENT_CHECK)):
                    if self._client_left():
                        # gin's CloseNotify: the daemon returns at once, which drops the session and cancels the
                        # plugin's app call; nothing more is written.
                        self.close_connection = True
                        return response.status
                    continue
                try:
                    chunk = next(response.chunks(timeout=remaining), None)
                except PluginError:  # silent until the deadline
                    body.write(KILLED_BY_TIMEOUT)
                    break
                if chunk is not None:
                    body.write(chunk)
                    continue
                if response.error is not None and response.error_data is None:
                    # The plugin stopped (Ctrl-C, close) or died: the daemon's JSON on a line of its own, so that an
                    # NDJSON client reads one last JSON line rather than stray text.
                    body.write_line(daemon_error_body(response.error))
                elif response.error is not None:
                    body.write(plugin_error_text(response.error_data, response.error).encode())
                break
            else:
                body.write(KILLED_BY_TIMEOUT)
            if not body.finish():
                self.close_connection = True  # Go closes a connection whose body fell short of its length
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; the plugin's later output is dropped
        finally:
            response.close()
        return response.status


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
        console: Callable[[str], None],
        max_execution_timeout: float | None = None,
    ) -> None:
        super().__init__(address, DaemonHandler)
        if max_execution_timeout is None:
            max_execution_timeout = seconds_from_env(EXECUTION_TIMEOUT_ENV, EXECUTION_TIMEOUT)
        self.max_execution_timeout = max_execution_timeout
        self.supervisor = supervisor
        self.settings = dict(settings or {})
        self.hook_id = hook_id
        self.console = console
        self.public_host: str | None = None
        """The host name Dify is reached at, as nginx would see it (``None``: the one the client used)."""
        self.index: bytes | None = None
        """The html page ``GET /`` answers (``make run`` sets it: the demo's links); ``None``: a 404 like any path."""
        self._thread: threading.Thread | None = None
        self._requests = 0
        self._requests_done = threading.Condition()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its connection is ordinary (Go's server says nothing of it); any other failure of a
        connection gets one line, not socketserver's traceback."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
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

    def serve_in_background(self) -> None:
        """Serve from a daemon thread; ``close`` stops it."""
        # A short poll: ``shutdown`` waits for the loop's next look, 0.5 s by default, at every close.
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="devkit-server", daemon=True)
        self._thread.start()

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

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Body:
    """Writes a response body as Go's server does: chunked, or as a plain body of the plugin's ``Content-Length``
    (Go drops the bytes beyond it; ``finish`` says when the body fell short, and the connection must close)."""

    def __init__(self, out: BinaryIO, length: int | None) -> None:
        self._out = out
        self._left = length
        self._last = b""

    def write_line(self, data: bytes) -> None:
        """``data`` on a line of its own: after a newline if the body does not end with one, then a newline."""
        self.write((b"\n" if self._last not in (b"", b"\n") else b"") + data + b"\n")

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._last = data[-1:]
        if self._left is None:
            self._out.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self._out.write(data[: self._left])
            self._left -= min(len(data), self._left)
        self._out.flush()

    def finish(self) -> bool:
        if self._left is None:
            self._out.write(b"0\r\n\r\n")
        return not self._left
