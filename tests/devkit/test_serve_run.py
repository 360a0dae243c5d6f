"""``make run`` as a person meets it: every curl line it prints works as printed, with or without an api key, and
Ctrl-C or SIGTERM stops it cleanly, even mid-stream or while the plugin is still starting."""

import html
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import pytest

from devkit.demo.apps import DEMO_APPS, DemoApps
from devkit.local import declared
from devkit.serve import create_server, default_settings, format_banner, index_page, main
from tests import declarations
from tests.devkit.conftest import ECHO_PLUGIN, ROOT, call
from tests.devkit.shell import assert_worked, run

KEY = "k-second"


def printed_curls(banner: str) -> list[str]:
    """The commands of the banner: lines that are a curl command, or a format's name then one."""
    return [match.group(1) for line in banner.splitlines() if (match := re.match(r"^\s+(?:\w+\s+)?(curl .*)$", line))]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[object, list[str]]]:
    console: list[str] = []
    server = create_server(ROOT, DemoApps(token_delay=0), console=console.append, plugin_log=lambda _: None)
    server.serve_in_background()
    yield server, console
    server.close()


KEYED = "api_key" in declared(ROOT).settings
"""The plugin has an ``api_key`` setting: its curl lines are tried with a key too."""


@pytest.mark.parametrize("api_key", [None, *([f"k-first, {KEY}"] if KEYED else [])])
def test_every_curl_line_make_run_prints_works_as_printed(served, tmp_path, api_key):
    server, console = served
    settings = default_settings(ROOT) | ({"api_key": api_key} if api_key else {})
    server.settings = settings
    banner = format_banner(server.endpoint_url, plugin_dir=ROOT, settings=settings)
    commands = printed_curls(banner)
    assert commands
    environment = {"PATH": os.environ["PATH"], "KEY": KEY}
    for command in commands:
        assert_worked(run(command, env=environment, cwd=tmp_path, console=console))
    if api_key:  # the key is what makes them work
        refused = run(commands[0], env={"PATH": os.environ["PATH"]}, cwd=tmp_path, console=console)
        assert refused.statuses == [401]


class Serve:
    """``python -m devkit serve`` on a free port, serving the echo plugin, read as a terminal would show it."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devkit", "serve", "--port", "0", "--plugin-dir", str(ECHO_PLUGIN)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self._started = threading.Event()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            if "starting the plugin" in line:
                self._started.set()

    def wait_starting(self) -> None:
        assert self._started.wait(30), "".join(self.stderr)

    def endpoint(self) -> str:
        """Reads the banner up to its last line; returns the endpoint URL it printed."""
        assert self.process.stdout is not None
        endpoint = ""
        for line in self.process.stdout:
            if line.startswith("Endpoint: "):
                endpoint = line.split()[1]
            if line.startswith("Ctrl-C"):
                return endpoint
        raise AssertionError("the banner never ended: " + "".join(self.stderr))

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_it_cleanly_and_a_cut_stream_ends_with_the_daemons_json_line(signum):
    serve = Serve()
    endpoint = urlsplit(serve.endpoint())
    connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
    try:
        connection.request("GET", f"{endpoint.path}/slow/30")
        response = connection.getresponse()
        assert response.status == 200
        assert response.readline() == b"first\n"
        assert serve.stop(signum) == 0
        last = response.read()
    finally:
        connection.close()
    assert last.endswith(b"\n") and last.count(b"\n") == 1
    error = json.loads(last)
    assert error["code"] == -500 and json.loads(error["message"])["message"] == "the plugin was stopped"
    stderr = "".join(serve.stderr)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert f"{signal.Signals(signum).name}: stopping" in stderr and stderr.rstrip().endswith("[devkit] stopped")


def test_a_signal_while_the_plugin_starts_stops_it_once_started_without_a_traceback():
    serve = Serve()
    serve.wait_starting()
    assert serve.stop(signal.SIGTERM) == 0
    assert serve.process.stdout is not None and "Ctrl-C" not in serve.process.stdout.read()  # no banner
    stderr = "".join(serve.stderr)
    assert "Traceback" not in stderr and stderr.rstrip().endswith("[devkit] stopped")


def test_the_plugin_is_not_left_running():
    serve = Serve()
    serve.endpoint()
    [pid] = [
        int(match.group(1)) for line in serve.stderr if (match := re.search(r"plugin started \(pid (\d+)\)", line))
    ]
    os.kill(pid, 0)  # running
    assert serve.stop(signal.SIGTERM) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


SERVES_APPS = "allowed_apps" in declared(ROOT).settings
"""The plugin opens apps by the ``allowed_apps`` setting, as the relay does (a minimal scaffold does not)."""

if SERVES_APPS:

    def test_with_allowed_apps_empty_the_banner_says_so_and_every_printed_line_answers_403(served, tmp_path):
        server, console = served
        server.settings = default_settings(ROOT) | {"allowed_apps": ""}
        banner = format_banner(server.endpoint_url, plugin_dir=ROOT, settings=server.settings)
        assert "allowed_apps is empty" in banner
        # The relay's routes say it; an endpoint of the plugin's own (a copy's /health...) answers as it decides.
        own = [route.path for route in declarations.routes() if not route.relay_route]
        for command in printed_curls(banner):
            if any(path in command for path in own):
                continue
            outcome = run(command, env={"PATH": os.environ["PATH"]}, cwd=tmp_path, console=console)
            assert outcome.statuses == [403] and b"endpoint_not_configured" in outcome.body, outcome.command

    def test_a_demo_app_opened_under_another_types_path_links_to_its_own(served):
        """``outline`` is a workflow (``workflow:outline=…``): a browser that opens ``/chat/outline`` gets a page
        that says so and links to ``/workflow/outline``, which shows the app's form."""
        server, _ = served
        server.settings = default_settings(ROOT)
        wrong = f"{urlsplit(server.endpoint_url).path}/chat/outline"
        page = call(server, "GET", wrong, headers={"Accept": "text/html"})
        assert page.status == 400
        [href] = re.findall(r'<a href="([^"]+)">open it at its own path</a>', page.body.decode())
        assert "This is a workflow app:" in page.body.decode()
        right = urljoin(wrong, href)
        assert right.endswith("/workflow/outline")
        form = call(server, "GET", right, headers={"Accept": "text/html"})
        assert form.status == 200 and b"<form" in form.body

    def test_a_name_shaped_like_an_app_id_is_reported_naming_the_entry(served):
        server, _ = served
        chatbot, outline = (app.app_id for app in DEMO_APPS if app.slug in ("chatbot", "outline"))
        server.settings = {"allowed_apps": f"chat:chatbot={chatbot}, {outline}={chatbot}"}
        reply = call(server, "GET", f"{urlsplit(server.endpoint_url).path}/chat/chatbot?query=hi")
        error = json.loads(reply.body)["error"]
        assert (reply.status, error["code"]) == (500, "endpoint_misconfigured")
        assert f"{outline}={chatbot}" in error["message"] and "is an app id" in error["message"]


def test_the_root_address_is_an_index_of_the_demo_links(served):
    server, _ = served
    banner = format_banner(server.endpoint_url, plugin_dir=ROOT, settings=default_settings(ROOT))
    server.index = index_page(banner)
    try:
        connection = http.client.HTTPConnection(server.display_host, server.server_port, timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        page = response.read().decode()
    finally:
        server.index = None
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
    links = re.findall(r'<a href="([^"]+)">', page)
    printed = re.findall(r"https?://[^\s'\"]+", banner)
    assert links == [html.escape(url) for url in printed] and links  # every address the banner prints, a link
    assert "<script" not in page


def test_a_busy_port_says_how_to_choose_another(served, capsys):
    server, _ = served

    assert main(["--port", str(server.server_port), "--host", server.display_host]) == 1
    said = capsys.readouterr()
    assert (
        f'make run ARGS="--port {server.server_port + 1}"' in said.out + said.err and "--port 0" in said.out + said.err
    )
