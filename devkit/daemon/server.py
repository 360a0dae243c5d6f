"""An HTTP server that plays the HTTP side of Dify's plugin daemon: ``/e/<hook_id>/<path>`` -> the plugin.

It stands where Dify's nginx and daemon stand, and behaves as they do towards the client and the plugin
(``internal/server/endpoint.go``, ``internal/service/endpoint.go``, ``internal/core/io_tunnel/endpoint_service.go``
in langgenius/dify-plugin-daemon):

* routes ``/e/<hook_id>/<rest>`` for HEAD, GET, POST, PUT, DELETE and OPTIONS; anything else is a 404;
* drops hop-by-hop headers (Dify's nginx does, with ``proxy_set_header Connection ""``), then hands the request
  to ``devkit.daemon.http`` for the daemon's own rewriting (10 MiB body cap, forwarding headers, hook headers);
* answers only once the plugin's *first body chunk* is in (the daemon reads status, headers and that chunk
  together), then streams the rest with ``Transfer-Encoding: chunked``, one flush per chunk;
* a plugin failure before that first chunk is the daemon's ``500 {"code": -500, "message": ...}``; after it,
  the daemon appends the error's text to the body, so this server does too;
* serves many requests at once (a thread each), like the daemon's goroutines.

Deviations, on purpose: any hook id is accepted (there is no endpoint table), the part of a body beyond the cap is
read and discarded so the client gets its answer instead of a reset, and a stream that stalls ends after
``EXECUTION_TIMEOUT`` seconds of silence rather than 600 s after its start.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, BinaryIO, Self
from urllib.parse import unquote, urlsplit

from devkit.daemon.http import MAX_BODY_BYTES, daemon_error_body, plugin_error_text
from devkit.daemon.process import DEFAULT_HOOK_ID, PluginError, PluginResponse
from devkit.daemon.supervisor import PluginSupervisor

EXECUTION_TIMEOUT = 600.0
"""``PLUGIN_MAX_EXECUTION_TIMEOUT`` of Dify's docker setup; here the longest silence allowed within a request."""

DRAIN_LIMIT = 64 * 1024 * 1024
"""Bytes beyond the body cap read and thrown away so the client can finish sending; past that, hang up."""

METHODS = ("HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS")
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
_NOT_RELAYED_BACK = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_ROUTE = re.compile(r"^/e/([^/]+)(/.*)?$")
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
        self._plain(404, _NOT_FOUND)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request is written when the answer is complete, see _relay

    def log_message(self, format: str, *args: Any) -> None:
        self.server.console(f"{self.address_string()} {format % args}")

    # -- relaying ----------------------------------------------------------------------------------------------

    def _relay(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        match = _ROUTE.match(split.path)
        if match is None:
            self._discard_body()
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
        target = (match.group(2) or "/") + (f"?{split.query}" if split.query else "")
        headers = forwardable_headers(self.headers.items())
        if not any(name.lower() == "host" for name, _ in headers):
            headers.append(("Host", f"{self.server.display_host}:{self.server.server_port}"))

        status = self._invoke(hook_id, target, headers, body)
        self.server.console(f'"{self.requestline}" {status} ({time.monotonic() - started:.2f} s)')

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
                timeout=EXECUTION_TIMEOUT,
            )
        except PluginError as exc:
            return self._daemon_error(plugin_error_text(exc.data, exc.message))
        try:
            return self._stream(response)
        finally:
            response.close()

    def _stream(self, response: PluginResponse) -> int:
        chunks = response.chunks(timeout=EXECUTION_TIMEOUT)
        try:
            first = next(chunks, None)
        except PluginError as exc:
            return self._daemon_error(exc.message)
        if first is None and response.error is not None:
            return self._daemon_error(plugin_error_text(response.error_data, response.error))

        has_body = self.command != "HEAD" and response.status >= 200 and response.status not in (204, 304)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() not in _NOT_RELAYED_BACK or (not has_body and name.lower() == "content-length"):
                    self.send_header(name, value)
            if has_body:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if not has_body:
                response.close()
                return response.status
            if first is not None:
                self._write_chunk(first)
            try:
                for chunk in chunks:
                    self._write_chunk(chunk)
            except PluginError as exc:
                self._write_chunk(exc.message.encode())
            if response.error is not None:
                self._write_chunk(plugin_error_text(response.error_data, response.error).encode())
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; the plugin's later output is dropped
        return response.status

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _daemon_error(self, message: str) -> int:
        self._plain(500, daemon_error_body(message), "application/json; charset=utf-8")
        return 500

    def _plain(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
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
    ) -> None:
        super().__init__(address, DaemonHandler)
        self.supervisor = supervisor
        self.settings = dict(settings or {})
        self.hook_id = hook_id
        self.console = console or _stderr_console
        self._thread: threading.Thread | None = None

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
        self._thread = threading.Thread(target=self.serve_forever, name="devkit-server", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        """Stop serving, close the socket and stop the plugin."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()
        self.supervisor.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


_console_lock = threading.Lock()


def _stderr_console(line: str) -> None:
    with _console_lock:
        print(f"[devkit] {line}", file=sys.stderr, flush=True)
