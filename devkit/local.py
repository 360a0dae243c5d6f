"""The plugin behind a local HTTP front, served as Dify serves it: ``http://127.0.0.1:5002/e/<hook id>/<path>``.

The real plugin process (``devkit.plugin``) gets each request as the daemon's endpoint invocation; its answer is
written back chunk by chunk as it comes, as the daemon does. Settings: the group's defaults, then ``--setting``.
The plugin's calls back to Dify (apps, storage) are refused with a sentence that says so.
"""

import argparse
import contextlib
import errno
import sys
import threading
from collections.abc import Sequence
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from devkit.plugin import DEFAULT_HOOK_ID, MAX_BODY_BYTES, Plugin, PluginError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5002
PREFIX = f"/e/{DEFAULT_HOOK_ID}"
# Dify docker's PLUGIN_MAX_EXECUTION_TIMEOUT: seconds from the plugin's first body chunk until the daemon gives up.
EXECUTION_TIMEOUT = 600.0
NOT_RELAYED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
TEXT = ("Content-Type", "text/plain; charset=utf-8")

_console_lock = threading.Lock()


def say(prefix: str, line: str) -> None:
    """``[prefix] line`` on stderr, each line whole whichever thread writes it."""
    with _console_lock:
        print(f"[{prefix}] {line}", file=sys.stderr, flush=True)


class Declaration(NamedTuple):
    label: str  # in English
    settings: dict[str, Any]  # endpoint settings: name -> default (None when it has none)
    routes: list[tuple[str, str]]  # (method, path) of the routes people call; hidden ones, meant for Dify, left out


def declared(root: Path) -> Declaration:
    manifest = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8"))
    settings: dict[str, Any] = {}
    routes: list[tuple[str, str]] = []
    for group_file in (manifest.get("plugins") or {}).get("endpoints") or []:
        group = yaml.safe_load((root / group_file).read_text(encoding="utf-8")) or {}
        settings |= {str(item["name"]): item.get("default") for item in group.get("settings") or []}
        for endpoint_file in group.get("endpoints") or []:
            endpoint = yaml.safe_load((root / endpoint_file).read_text(encoding="utf-8")) or {}
            if not endpoint.get("hidden"):
                routes.append((str(endpoint["method"]).upper(), str(endpoint["path"])))
    return Declaration(str((manifest.get("label") or {}).get("en_US") or "The plugin"), settings, routes)


class PlainHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 connection that can answer with a whole body at once."""

    protocol_version = "HTTP/1.1"

    def _plain(self, status: int, body: bytes, *headers: tuple[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in (*headers, ("Content-Length", str(len(body)))):
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class LocalServer(ThreadingHTTPServer):
    """Serves ``plugin`` (started by the caller) on ``host:port`` (port 0: a free one)."""

    daemon_threads = True

    def __init__(self, plugin: Plugin, host: str, port: int, settings: dict[str, Any]) -> None:
        super().__init__((host, port), Front)
        self.plugin = plugin
        self.settings = settings

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class Front(PlainHandler):
    server: LocalServer

    def do_GET(self) -> None:
        if self.path in ("", "/"):
            routes = declared(self.server.plugin.plugin_dir).routes
            lines = [f"{method:7} {self.server.url}{PREFIX}{path}\n" for method, path in dict.fromkeys(routes)]
            self._plain(200, ("The plugin's endpoints:\n" + "".join(lines)).encode(), TEXT)
        else:
            self._relay()

    def _relay(self) -> None:
        """One request through the plugin; the answer streamed back with chunked transfer encoding."""
        length = int(self.headers.get("Content-Length") or 0)
        if not self.path.startswith(PREFIX + "/"):
            self.close_connection = length > 0
            where = f"Not here: the plugin's endpoints are under {self.server.url}{PREFIX}/\n"
            return self._plain(404, where.encode(), TEXT)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return self._plain(413, b"The request body is over the daemon's 10 MiB limit.\n", TEXT)
        body = self.rfile.read(length) if length else b""
        headers = [(name, value) for name, value in self.headers.items() if name.lower() not in NOT_RELAYED]
        try:
            response = self.server.plugin.request(
                self.command,
                self.path.removeprefix(PREFIX),
                headers=headers,
                body=body,
                settings=self.server.settings,
                timeout=EXECUTION_TIMEOUT,
            )
        except PluginError as error:
            return self._plain(500, f"The plugin gave no answer: {error}\n".encode(), TEXT)
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in NOT_RELAYED:
                self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in response.chunks(timeout=EXECUTION_TIMEOUT):
                if self.command != "HEAD":
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            if self.command != "HEAD":
                self.wfile.write(b"0\r\n\r\n")
        except PluginError:
            self.close_connection = True  # the body ends short, as the daemon ends it
        except OSError:
            response.close()  # the client went away
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _relay

    def log_message(self, format: str, *args: Any) -> None:
        say("request", f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE", help="an endpoint setting")
    args = parser.parse_args(argv)
    declaration = declared(ROOT)
    settings = {name: value for name, value in declaration.settings.items() if value is not None}
    for item in args.setting:
        name, _, value = item.partition("=")
        settings[name] = value

    plugin = Plugin(ROOT, on_log=partial(say, "plugin"))
    try:
        server = LocalServer(plugin, args.host, args.port, settings)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        another = f"make run ARGS='--port {args.port + 1}'"
        print(f"Port {args.port} is in use. Pick another: {another} (or --port 0 for any free port)")
        return 1
    with plugin, server:
        print(f"Serving {(plugin.manifest or {}).get('name', 'the plugin')} at {server.url}{PREFIX}")
        for method, path in dict.fromkeys(declaration.routes):
            print(f"  {method:7} {server.url}{PREFIX}{path}")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
