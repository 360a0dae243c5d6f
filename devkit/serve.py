"""``python -m devkit serve`` (``make run``): the plugin behind a local stand-in for Dify, with demo apps.

Starts the plugin directory as Dify's daemon would (``devkit.daemon.process``), answers its app calls with the
demo apps (``devkit.demo.apps``) and serves ``http://127.0.0.1:5002/e/<hook_id>/...`` as the daemon does
(``devkit.daemon.server``), for a browser or curl.
"""

import argparse
import html
import json
import re
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, urlencode

import yaml

from devkit.daemon.process import AppBackend, PluginProcess
from devkit.daemon.server import EXECUTION_TIMEOUT_ENV, DevDaemonServer
from devkit.daemon.supervisor import PluginSupervisor
from devkit.demo.apps import DEMO_ALLOWED_APPS, DEMO_APPS, DEMO_SETTINGS, DemoApp, DemoApps
from devkit.local import DEFAULT_HOST, DEFAULT_PORT, ROOT, Declaration, declared, say
from devkit.plugin import DEFAULT_HOOK_ID, PluginError

DEFAULT_PUBLIC_HOST = "dify.example.com"  # make run plays a Dify reached at a public name, as most are
FORMATS = ("ndjson", "sse", "json", "html")


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
    max_execution_timeout: float | None = None,
    public_host: str | None = DEFAULT_PUBLIC_HOST,
) -> DevDaemonServer:
    """Bind the server, then start the plugin (not serving yet: ``serve_forever()`` or ``serve_in_background()``,
    then ``close()``); raises ``OSError`` (port taken) or ``PluginError`` (no start). ``max_execution_timeout``:
    seconds, by default ``PLUGIN_MAX_EXECUTION_TIMEOUT`` (see ``DevDaemonServer``). ``public_host``: the name Dify
    is reached at (its API can fetch the plugin's endpoint there, so files sent as bytes reach the apps); ``None``:
    the address the client used (a local one: Dify could not fetch them)."""
    console = console or partial(say, "devkit")
    on_log = plugin_log or partial(say, "plugin")
    local_host = public_host or "localhost"
    # The daemon starts local plugins with its own environment, its request time limit included.
    env = {EXECUTION_TIMEOUT_ENV: f"{max_execution_timeout:g}"} if max_execution_timeout is not None else None
    supervisor = PluginSupervisor(
        lambda: PluginProcess(plugin_dir, apps, python=python, on_log=on_log, public_host=local_host, env=env),
        console=console,
    )
    server = DevDaemonServer(
        (host, port),
        supervisor,
        settings=settings,
        hook_id=hook_id,
        console=console,
        max_execution_timeout=max_execution_timeout,
    )
    server.public_host = public_host
    try:
        supervisor.start()
    except BaseException:
        server.server_close()
        raise
    return server


def _formats(app: DemoApp) -> list[str]:
    """The formats ``app`` answers in: json means a blocking call, and Dify's agent apps refuse blocking mode."""
    return [fmt for fmt in FORMATS if fmt != "json" or app.mode != "agent-chat"]


def _app_url(endpoint_url: str, app: DemoApp, by_name: bool) -> str:
    """The bare app URL (it opens the app's form), by name as the demo settings serve them (``by_name``) or by id."""
    return f"{endpoint_url}/{app.path}/{app.slug if by_name else app.app_id}"


def _sample_url(base: str, app: DemoApp, fmt: str) -> str:
    """The app's sample call as a GET in format ``fmt``."""
    fields = [("query", app.sample_query)] if app.sample_query else []
    fields += [(f"inputs.{name}", value) for name, value in app.sample_inputs]
    return f"{base}?{urlencode([*fields, ('format', fmt)], quote_via=quote)}"


def demo_curls(endpoint_url: str, app: DemoApp, *, by_name: bool = True, api_key: bool = False) -> dict[str, str]:
    """One curl command per format for ``app``: ndjson POSTs the sample call as JSON (``-N`` shows the stream as it
    comes), the others GET it."""
    payload: dict[str, Any] = {"query": app.sample_query} if app.sample_query else {}
    if app.sample_inputs:
        payload["inputs"] = dict(app.sample_inputs)
    base, key = _app_url(endpoint_url, app, by_name), _key_option(api_key)
    body = shlex.quote(json.dumps(payload, ensure_ascii=False))
    curls = {"ndjson": f"curl -N{key} -H 'Content-Type: application/json' -d {body} {shlex.quote(base)}"}
    for fmt in _formats(app)[1:]:
        curls[fmt] = f"curl{'' if fmt == 'json' else ' -N'}{key} {shlex.quote(_sample_url(base, app, fmt))}"
    return curls


def _key_option(api_key: bool) -> str:
    """What the printed curl lines send when ``api_key`` is set: the shell puts the key in, never the banner."""
    return ' -H "Authorization: Bearer $KEY"' if api_key else ""


def _declaration(plugin_dir: Path | None) -> Declaration | None:
    """The plugin's declaration, or ``None`` when there is none to read."""
    try:
        return None if plugin_dir is None else declared(plugin_dir)
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return None


def format_banner(
    endpoint_url: str, *, plugin_dir: Path | None = None, settings: Mapping[str, Any] | None = None
) -> str:
    """What ``serve`` prints on start: where the endpoints are, a link per demo app whose path the plugin declares,
    a curl line per format for one app, what to send when the endpoint wants a key, the plugin's other endpoints."""
    settings = settings or {}
    by_name = settings.get("allowed_apps") == DEMO_ALLOWED_APPS
    api_key = bool(str(settings.get("api_key") or "").strip())
    declaration = _declaration(plugin_dir)
    routes = declaration.routes if declaration else []
    paths = {path for _, path in routes}
    shown = [app for app in DEMO_APPS if declaration is None or any(p.startswith(f"/{app.path}/") for p in paths)]
    lines = [
        f"{declaration.label if declaration else 'The plugin'}, served as Dify's plugin daemon serves it"
        + (f" (from {plugin_dir})" if plugin_dir else "")
        + ("; demo apps answer instead of Dify" if shown else ""),
        f"Endpoint: {endpoint_url}   (any /e/<hook_id>/ works)",
    ]
    if settings:
        lines.append("Settings: " + ", ".join(sorted(settings)))
    # An allowed_apps setting (declared, or given when the declaration is unknown) left empty: the plugin serves none.
    has_allowed_apps = "allowed_apps" in (declaration.settings if declaration else settings)
    if has_allowed_apps and not str(settings.get("allowed_apps") or "").replace(",", " ").strip():
        lines.append(
            "allowed_apps is empty: the endpoint serves no app, and every link below answers 403"
            " endpoint_not_configured. Name apps, or --setting 'allowed_apps=*' for all of them."
        )
    if api_key:
        lines += [
            "api_key is set: every request must carry one of its keys. The curl lines below send $KEY:",
            "  export KEY='<one of the keys in the api_key setting>'   (a browser is asked for it on its first page)",
        ]
    if shown:
        width = max(len(app.slug) for app in shown)
        modes = max(len(app.mode) for app in shown)
        lines += ["", "Open in a browser (each link shows the app's form):"]
        lines += [
            f"  {app.slug:<{width}}  {app.mode:<{modes}}  {_app_url(endpoint_url, app, by_name)}" for app in shown
        ]
        sample = next((app for app in shown if app.mode != "agent-chat"), shown[0])
        lines += ["", f"Or from a terminal, the {sample.slug} in each format:"]
        curls = demo_curls(endpoint_url, sample, by_name=by_name, api_key=api_key)
        lines += [f"  {fmt:<6}  {command}" for fmt, command in curls.items()]
        if any(app.mode == "completion" for app in shown):
            lines.append(
                "  Completion apps fail as Dify fails them for plugins (its generic 500, said as 502"
                " app_type_unsupported); make run ARGS=--completion-fixed plays a Dify that runs them."
            )
        if any(app.mode == "agent-chat" for app in shown):
            lines.append(
                "  No json for the agent: json is a blocking call, and Dify refuses blocking mode for agent apps"
                " (use ndjson or sse)."
            )
    lines += _surfaces(endpoint_url, paths, shown, api_key)
    others: dict[str, list[str]] = {}
    for method, path in routes:
        if not any(path.startswith(f"/{app.path}/") for app in shown) and not path.startswith(("/v1/", "/mcp")):
            others.setdefault(path, []).append(method)
    if others:
        lines += ["", "Other endpoints of the plugin:"]
        for path, methods in others.items():
            if set(methods) - {"HEAD", "OPTIONS"} == {"GET"} and "<" not in path:  # a plain resource: try it
                lines.append(f"  curl{_key_option(api_key)} {shlex.quote(endpoint_url + path)}")
            else:
                lines.append(f"  {', '.join(m for m in methods if m != 'OPTIONS') or 'OPTIONS'}  {endpoint_url}{path}")
    lines += ["", "Ctrl-C stops the server and the plugin."]
    return "\n".join(lines)


def index_page(banner: str) -> bytes:
    """The banner as the page ``http://127.0.0.1:5002/`` shows: the same lines, each address a link."""
    body = "".join(
        f'<a href="{html.escape(part)}">{html.escape(part)}</a>' if index % 2 else html.escape(part)
        for index, part in enumerate(_URL.split(banner))  # the addresses at odd indexes
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>App Relay, served locally</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f"<body><h1>App Relay, served locally</h1><pre>{body}</pre></body></html>\n"
    ).encode()


_URL = re.compile(r"(https?://[^\s'\"]+)")


def _surfaces(endpoint_url: str, declared: set[str], shown: list[DemoApp], api_key: bool) -> list[str]:
    """The OpenAI-compatible API and the MCP server, when the plugin declares them: where, and how to try them."""
    lines: list[str] = []
    chat = next((app for app in shown if app.takes_query), None)
    if "/v1/chat/completions" in declared and chat is not None:
        body = {"model": chat.slug, "stream": True, "messages": [{"role": "user", "content": "Hello!"}]}
        lines += [
            "",
            f"OpenAI-compatible API: base URL {endpoint_url}/v1; the models are the app names above",
            f"  curl -N{_key_option(api_key)} -H 'Content-Type: application/json' "
            f"{shlex.quote(endpoint_url + '/v1/chat/completions')} -d {shlex.quote(json.dumps(body))}",
            f"  python: OpenAI(base_url={endpoint_url + '/v1'!r}, api_key={'KEY' if api_key else repr('none')})"
            f".chat.completions.create(model={chat.slug!r}, messages=[...])",
        ]
        if "/v1/responses" in declared:
            lines.append(
                f"  Responses API (Codex, the Agents SDK): same base URL, .responses.create(model={chat.slug!r}, ...)"
            )
    if "/mcp" in declared:
        url = endpoint_url + "/mcp"
        headers = {"headers": {"Authorization": "Bearer <key>"}} if api_key else {}
        # Hosts that speak remote MCP take the URL; Claude Desktop starts local servers only, hence the bridge.
        # mcp-remote takes the header's value from env, as it documents: spaces inside args break on Windows.
        bridge: dict[str, Any] = {"command": "npx", "args": ["mcp-remote", url]}
        if api_key:
            bridge["args"] += ["--header", "Authorization:${AUTH_HEADER}"]
            bridge["env"] = {"AUTH_HEADER": "Bearer <key>"}
        by_url = {"mcpServers": {"dify-apps": {"url": url, **headers}}}
        by_bridge = {"mcpServers": {"dify-apps": bridge}}
        lines += [
            "",
            f"MCP server (Streamable HTTP): {url}; the tools are the app names above",
            f"  Cursor (~/.cursor/mcp.json) and hosts that take a URL: {json.dumps(by_url)}",
            f"  Claude Desktop, through the mcp-remote bridge: {json.dumps(by_bridge)}",
        ]
    return lines


def load_settings(
    settings_file: Path | None, pairs: Iterable[str], defaults: Mapping[str, Any] = DEMO_SETTINGS
) -> dict[str, Any]:
    """The demo settings (apps by name), then a JSON or YAML file, then ``name=value`` pairs (strings): later wins."""
    settings: dict[str, Any] = dict(defaults)
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


def default_settings(plugin_dir: Path) -> dict[str, Any]:
    """The demo endpoint's settings, limited to those the plugin declares (all of them when it cannot be read)."""
    declaration = _declaration(plugin_dir)
    return {name: value for name, value in DEMO_SETTINGS.items() if declaration is None or name in declaration.settings}


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM ask for one clean stop: the server stops serving, the plugin is stopped, the
    streams it cut end with the daemon's error line, and the command returns 0. The handler only sets an event: it
    runs on the main thread between any two bytecodes, where raising (a ``KeyboardInterrupt`` out of wherever that
    thread was) or taking a lock (the console's, which that thread may hold) is unsafe. A watcher thread does the
    rest; a second signal changes nothing."""

    def __init__(self, console: Callable[[str], None]) -> None:
        self.requested = threading.Event()
        self._console = console
        self._signal = "signal"
        self._server: DevDaemonServer | None = None
        self._serving = threading.Event()
        # Both explicitly: a shell may start a background job with SIGINT ignored, and Python keeps that.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)
        threading.Thread(target=self._watch, name="devkit-signals", daemon=True).start()

    def serving(self, server: DevDaemonServer) -> None:
        """From now on a signal stops ``server``'s ``serve_forever``."""
        self._server = server
        self._serving.set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._signal = signal.Signals(signum).name
        self.requested.set()

    def _watch(self) -> None:
        self.requested.wait()
        self._console(f"{self._signal}: stopping")
        self._serving.wait()
        assert self._server is not None
        self._server.shutdown()  # returns once serve_forever (on the main thread) has returned


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devkit serve",
        description="Serve the plugin on /e/<hook_id>/... like Dify's plugin daemon, with demo apps instead of Dify.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--plugin-dir", type=Path, default=ROOT, help="plugin directory (default: this repository)")
    parser.add_argument("--hook-id", default=DEFAULT_HOOK_ID, help="hook id shown in the printed links")
    parser.add_argument(
        "--completion-fixed",
        action="store_true",
        help="play a Dify that runs completion apps for plugins (1.16 and earlier fail every such call with a 500)",
    )
    parser.add_argument(
        "--public-host",
        default=DEFAULT_PUBLIC_HOST,
        help=f"the name Dify is reached at (default {DEFAULT_PUBLIC_HOST}); '' for a local address, from which "
        "Dify's API cannot fetch the files the plugin serves (files sent as bytes are then refused with a 400)",
    )
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
    args = parser.parse_args(argv)
    plugin_dir: Path = args.plugin_dir.resolve()
    try:
        settings = load_settings(args.settings_file, args.setting, default_settings(plugin_dir))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        parser.error(str(exc))
    console = partial(say, "devkit")
    stop = StopSignals(console)
    console(f"starting the plugin in {plugin_dir}")
    try:
        server = create_server(
            plugin_dir,
            DemoApps(token_delay=max(args.token_delay, 0.0), completion_fixed=args.completion_fixed),
            host=args.host,
            port=args.port,
            settings=settings,
            hook_id=args.hook_id,
            python=args.python,
            console=console,
            public_host=args.public_host or None,
        )
    except OSError as exc:
        console(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. Choose another port: "
            f'make run ARGS="--port {args.port + 1}" (or --port 0 for any free one).'
        )
        return 1
    except PluginError as exc:
        console(str(exc))
        return 1
    stop.serving(server)
    if server.supervisor.current is not None:
        console(f"plugin started (pid {server.supervisor.current.pid})")
    try:
        if not stop.requested.is_set():
            banner = format_banner(server.endpoint_url, plugin_dir=plugin_dir, settings=settings)
            server.index = index_page(banner)
            print(f"Index of these links: {server.url}/\n{banner}", flush=True)
            server.serve_forever()
    finally:
        server.close()
        console("stopped")
    return 0
