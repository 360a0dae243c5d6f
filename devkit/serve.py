"""``python -m devkit serve`` (``make run``): the plugin behind a local stand-in for Dify, with demo apps.

Starts the plugin directory as Dify's daemon would (``devkit.daemon.process``), answers its app calls with the
demo apps (``devkit.demo.apps``) and serves ``http://127.0.0.1:5002/e/<hook_id>/...`` like the daemon
(``devkit.daemon.server``), so the endpoints can be tried from a browser or curl without any Dify instance.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, urlencode

import yaml

from devkit.daemon.process import DEFAULT_HOOK_ID, AppBackend, PluginError, PluginProcess
from devkit.daemon.server import DevDaemonServer
from devkit.daemon.supervisor import PluginSupervisor
from devkit.demo.apps import DEMO_ALLOWED_APPS, DEMO_APPS, DEMO_SETTINGS, DemoApp, DemoApps

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5002
FORMATS = ("html", "ndjson", "sse", "json")

_print_lock = threading.Lock()


def _say(prefix: str) -> Callable[[str], None]:
    def say(line: str) -> None:
        with _print_lock:
            print(f"[{prefix}] {line}", file=sys.stderr, flush=True)

    return say


def create_server(
    plugin_dir: Path,
    apps: AppBackend,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    settings: Mapping[str, Any] | None = None,
    hook_id: str = DEFAULT_HOOK_ID,
    python: str = sys.executable,
    console: Callable[[str], None] | None = None,
    plugin_log: Callable[[str], None] | None = None,
    start_timeout: float = 60,
    max_execution_timeout: float | None = None,
    app_read_timeout: float | None = None,
    max_invocation_timeout: int | None = None,
) -> DevDaemonServer:
    """Bind the server, then start the plugin; raises ``OSError`` (port taken) or ``PluginError`` (no start).

    The server is not serving yet: call ``serve_forever()`` or ``serve_in_background()``, and ``close()`` after.
    The three time limits (seconds) default to the real ones, or to ``PLUGIN_MAX_EXECUTION_TIMEOUT``,
    ``DIFY_BACKWARDS_INVOCATION_READ_TIMEOUT`` (milliseconds) and ``MAX_INVOCATION_TIMEOUT`` in the environment:
    see ``DevDaemonServer`` and ``PluginProcess``.
    """
    console = console or _say("devkit")
    plugin_log = plugin_log or _say("plugin")
    supervisor = PluginSupervisor(
        lambda: PluginProcess(
            plugin_dir,
            apps,
            python=python,
            on_log=plugin_log,
            app_read_timeout=app_read_timeout,
            max_invocation_timeout=max_invocation_timeout,
        ),
        console=console,
        start_timeout=start_timeout,
    )
    server = DevDaemonServer(
        (host, port),
        supervisor,
        settings=settings,
        hook_id=hook_id,
        console=console,
        max_execution_timeout=max_execution_timeout,
    )
    try:
        supervisor.start()
    except BaseException:
        server.server_close()
        raise
    return server


def demo_links(endpoint_url: str, app: DemoApp, *, by_name: bool = True) -> dict[str, str]:
    """One URL per format for a demo app; the html one is the bare app URL, which opens the app's form.

    ``by_name``: the endpoint serves the demo apps by their names (the demo settings); else by id.
    """
    base = f"{endpoint_url}/{app.path}/{app.slug if by_name else app.app_id}"
    fields: list[tuple[str, str]] = []
    if app.sample_query:
        fields.append(("query", app.sample_query))
    fields += [(f"inputs.{name}", value) for name, value in app.sample_inputs]
    links = {"html": base}
    for fmt in FORMATS[1:]:
        if fmt == "json" and app.mode == "agent-chat":
            continue  # json means a blocking call, and Dify's agent apps refuse blocking mode
        links[fmt] = f"{base}?{urlencode([*fields, ('format', fmt)], quote_via=quote)}"
    return links


def demo_curl(endpoint_url: str, app: DemoApp, *, by_name: bool = True) -> str:
    """A ``curl -N`` command that POSTs the app's sample call as JSON and shows the NDJSON stream."""
    payload: dict[str, Any] = {}
    if app.sample_query:
        payload["query"] = app.sample_query
    if app.sample_inputs:
        payload["inputs"] = dict(app.sample_inputs)
    url = f"{endpoint_url}/{app.path}/{app.slug if by_name else app.app_id}"
    body = json.dumps(payload, ensure_ascii=False)
    return f"curl -N -H 'Content-Type: application/json' -d {shlex.quote(body)} {shlex.quote(url)}"


def format_banner(
    endpoint_url: str,
    apps: Iterable[DemoApp] = DEMO_APPS,
    *,
    plugin_dir: Path | None = None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """What ``serve`` prints on start: where the endpoints are and, per demo app, links and a curl line."""
    lines = [
        "Dify App Relay devkit: a local stand-in for Dify's plugin daemon"
        + (f", serving {plugin_dir}" if plugin_dir else ""),
        f"Endpoint base URL: {endpoint_url}   (any /e/<hook_id>/ works)",
    ]
    settings = settings or {}
    if settings:
        lines.append("Endpoint settings: " + ", ".join(sorted(settings)))
    by_name = settings.get("allowed_apps") == DEMO_ALLOWED_APPS
    lines += ["", "Demo apps (devkit/demo/apps.py answers instead of Dify):"]
    for app in apps:
        lines += ["", f"  {app.name} [{app.mode}]  {app.slug}={app.app_id}"]
        lines += [f"    {fmt:<7} {url}" for fmt, url in demo_links(endpoint_url, app, by_name=by_name).items()]
        lines.append(f"    try:    {demo_curl(endpoint_url, app, by_name=by_name)}")
    lines += ["", "Ctrl-C stops the server and the plugin."]
    return "\n".join(lines)


def load_settings(settings_file: Path | None, pairs: Iterable[str]) -> dict[str, Any]:
    """The demo endpoint's settings (its apps by name), then a JSON or YAML file, then ``name=value`` pairs
    (strings): each wins over the one before."""
    settings: dict[str, Any] = dict(DEMO_SETTINGS)
    if settings_file is not None:
        text = settings_file.read_text(encoding="utf-8")
        loaded = json.loads(text) if settings_file.suffix == ".json" else yaml.safe_load(text)
        if not isinstance(loaded, dict):
            raise ValueError(f"{settings_file} must hold a mapping of setting names to values")
        settings.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--setting wants name=value, got {pair!r}")
        settings[name.strip()] = value
    return settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devkit serve",
        description="Serve the plugin on /e/<hook_id>/... like Dify's plugin daemon, with demo apps instead of Dify.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--plugin-dir", type=Path, default=ROOT, help="plugin directory (default: this repository)")
    parser.add_argument("--hook-id", default=DEFAULT_HOOK_ID, help="hook id shown in the printed links")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an endpoint setting, e.g. --setting api_key=secret (repeatable; wins over --settings-file)",
    )
    parser.add_argument("--settings-file", type=Path, help="endpoint settings as a JSON or YAML mapping")
    parser.add_argument(
        "--token-delay", type=float, default=0.03, help="seconds between the demo apps' words (default 0.03)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs the plugin")
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.settings_file, args.setting)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        parser.error(str(exc))
    say = _say("devkit")
    try:
        server = create_server(
            args.plugin_dir.resolve(),
            DemoApps(token_delay=max(args.token_delay, 0.0)),
            host=args.host,
            port=args.port,
            settings=settings,
            hook_id=args.hook_id,
            python=args.python,
            console=say,
        )
    except OSError as exc:
        say(f"cannot listen on {args.host}:{args.port}: {exc}")
        return 1
    except PluginError as exc:
        say(str(exc))
        return 1

    print(format_banner(server.endpoint_url, plugin_dir=args.plugin_dir.resolve(), settings=settings), flush=True)
    # Both explicitly: a shell may start a background job with SIGINT ignored, and Python keeps that.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopping")
    finally:
        server.close()
        say("stopped")
    return 0
