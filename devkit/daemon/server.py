"""The HTTP side of Dify's nginx and plugin daemon: ``/e/<hook_id>/<path>`` -> the plugin, a thread per request
like the daemon's goroutines (``internal/server/http_server.go``, ``internal/server/endpoint.go``,
``internal/service/endpoint.go``, ``internal/core/io_tunnel/endpoint_service.go`` in langgenius/dify-plugin-daemon;
``docker/nginx/`` in langgenius/dify).

Deviations, each explained where made: any hook id works (no endpoint table), other paths get a hint, not Dify's web
app; an oversized body is drained, not reset; the first chunk's wait is bounded; a body cut by the plugin stopping or
dying ends with the daemon's JSON line."""

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

EXECUTION_TIMEOUT_ENV = "PLUGIN_MAX_EXECUTION_TIMEOUT"  # the daemon's (and DevDaemonServer's default) time limit
CLIENT_CHECK = 0.25  # seconds between looks at whether a waiting client left (the daemon is told at once)
DRAIN_LIMIT = 64 * 1024 * 1024  # bytes over the cap drained (so the client gets its answer, not a reset); then hang up

KILLED_BY_TIMEOUT = daemon_error_body("killed by timeout")
"""Appended to a body when the execution timeout fires (``internal/service/endpoint.go``): the status (usually 200)
is long sent, so gin's ``c.JSON(500, ...)`` can only add to the body, and the response ends."""

_ROUTE = re.compile(r"^/e/([^/]+)(/.*)?$")
_HINT = "404 page not found\n\nPlugin endpoints live under /e/<hook_id>/, e.g. {}/chat/<app_id>?query=Hello\n"
_JSON = ("Content-Type", GIN_JSON)
_HTML = ("Content-Type", "text/html; charset=utf-8")


def _read_body(stream: BinaryIO, headers: Message, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of body (the rest dropped) and whether all was read; ``ValueError``: broken framing."""
    if "chunked" not in (headers.get("Transfer-Encoding") or "").lower():
        declared = (headers.get("Content-Length") or "0").strip()
        if not declared.isdecimal():
            raise ValueError("bad Content-Length")
        body = stream.read(min(int(declared), limit))
        return body, _discard(stream, int(declared) - len(body))
    body, dropped = bytearray(), 0
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
    """One client connection; each request is one endpoint invocation."""

    server_version = "dify-devkit"
    server: "DevDaemonServer"

    def do_GET(self) -> None:
        with self.server.in_flight():
            self._relay()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _relay writes one line once the answer is complete

    def log_message(self, format: str, *args: Any) -> None:
        self.server.console(f"{self.address_string()} {format % args}")

    def _relay(self) -> None:
        """``/e/<hook_id>/<rest>`` to the plugin after nginx; other methods and paths under ``/e``: the daemon's 404."""
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
        self.close_connection = self.close_connection or not complete
        query = f"?{split.query}" if split.query else ""
        if route is None:
            if self.command == "PATCH" or (split.path + "/").startswith("/e/"):
                self._plain(404, NOT_FOUND_BODY, _JSON)
            elif split.path == "/" and self.command in ("GET", "HEAD") and self.server.index is not None:
                self._plain(200, self.server.index, _HTML)
            else:
                self._plain(404, _HINT.format(self.server.endpoint_url).encode(), TEXT)
        elif not relayed:
            # gin's RedirectTrailingSlash to /e/<hook>/: 301 for GET (Go's http.Redirect link page), 307 otherwise.
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
        """Answer once the first body chunk is in (the daemon reads it with status and headers; a failure before it is
        a daemon 500), copying each header's first value; stream the body, a flush per chunk, until the plugin ends,
        fails (its error's text appended) or ``max_execution_timeout`` after the first chunk (``KILLED_BY_TIMEOUT``)."""
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
                        # gin's CloseNotify: the daemon returns at once (dropping the session and the app call).
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
                    # Stopped (Ctrl-C, close) or died: the daemon's JSON on its own line, for NDJSON clients.
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
        self.public_host: str | None = None  # Dify's name: nginx's Host, the plugin's file links (None: the client's)
        self.index: bytes | None = None  # the page ``GET /`` answers (``make run``'s links); ``None``: a 404
        self._thread: threading.Thread | None = None
        self._requests = 0
        self._requests_done = threading.Condition()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A dropped connection is ordinary (Go's server says nothing); other failures get a line, not a traceback."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.console(f"a request from {client_address[0]} failed: {type(exc).__name__}: {exc}")

    @property
    def display_host(self) -> str:
        """For links: a wildcard bind address is reachable as 127.0.0.1."""
        host = str(self.server_address[0])
        return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - compared, not bound

    @property
    def url(self) -> str:
        return f"http://{self.display_host}:{self.server_port}"

    @property
    def endpoint_url(self) -> str:
        """Where the plugin's paths start, as Dify shows it."""
        return f"{self.url}/e/{self.hook_id}"

    def serve_in_background(self) -> None:
        """Serve from a daemon thread; ``close`` stops it. A short poll: ``shutdown`` waits for the loop's next look."""
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="devkit-server", daemon=True)
        self._thread.start()

    def close(self, drain: float = 3.0) -> None:
        """Stop serving and the plugin; give the requests it cut ``drain`` s to end their bodies (the daemon's JSON)."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()
        self.supervisor.stop()
        with self._requests_done:
            self._requests_done.wait_for(lambda: not self._requests, drain)

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
    """A response body as Go's server writes it: chunked, or plain to the plugin's ``Content-Length`` (Go drops
    bytes beyond it; ``finish`` is false when the body fell short, and the connection must close)."""

    def __init__(self, out: BinaryIO, length: int | None) -> None:
        self._out = out
        self._left = length
        self._last = b""

    def write_line(self, data: bytes) -> None:
        """``data`` on a line of its own."""
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
