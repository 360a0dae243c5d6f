"""The README's JavaScript examples, as written, in Chromium, on a web page of another origin than the endpoint.

The README says they run "from a web page on an allowed origin": here a page served by a second local server (a
different port is a different origin), with the endpoint's ``cors_allowed_origins`` naming it. ``BASE`` and
``KEY`` are the examples' free variables, and ``output`` the element they write to, all given by the page.
"""

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devkit.demo.apps import DEMO_SETTINGS, DemoApps
from devkit.serve import create_server
from tests.browser.conftest import ROOT

KEY = "readme-js-key"
README = (ROOT / "README.md").read_text(encoding="utf-8")
JS_EXAMPLES = re.findall(r"^```js\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)
FETCH_EXAMPLE = next(example for example in JS_EXAMPLES if "fetch(" in example)
EVENT_SOURCE_EXAMPLE = next(example for example in JS_EXAMPLES if "new EventSource(" in example)


class BlankPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>a web page on an allowed origin</title><body></body>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web_page() -> Iterator[str]:
    """The origin of a web page on another port than the endpoint's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BlankPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def endpoint(web_page: str) -> Iterator[object]:
    """``make run``'s endpoint, its demo apps by name, that lets the web page's origin read its answers."""
    server = create_server(
        ROOT,
        DemoApps(token_delay=0),
        settings={**DEMO_SETTINGS, "cors_allowed_origins": web_page},
        console=lambda line: None,
        plugin_log=lambda line: None,
    )
    server.serve_in_background()
    yield server
    server.close()


@pytest.fixture
def on_web_page(page, web_page):
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(web_page + "/")
    return page


def test_the_fetch_example_reads_the_ndjson_stream_with_a_key(on_web_page, endpoint):
    endpoint.settings = {**endpoint.settings, "api_key": KEY}
    text = on_web_page.evaluate(
        "async ([BASE, KEY]) => {\n"
        "  const output = document.body.appendChild(document.createElement('pre'));\n"
        f"{FETCH_EXAMPLE}\n"
        "  return output.textContent;\n"
        "}",
        [endpoint.endpoint_url, KEY],
    )
    assert text.strip()  # the chatbot's answer, word by word
    assert on_web_page.errors == []


def test_the_fetch_example_without_the_key_throws_the_endpoints_message(on_web_page, endpoint):
    """Its error branch works too: the 401's JSON is read across origins (CORS applies to errors)."""
    endpoint.settings = {**endpoint.settings, "api_key": KEY}
    thrown = on_web_page.evaluate(
        "async ([BASE, KEY]) => {\n"
        "  const output = document.body.appendChild(document.createElement('pre'));\n"
        f"  try {{\n{FETCH_EXAMPLE}\n  }} catch (error) {{ return error.message; }}\n"
        "  return null;\n"
        "}",
        [endpoint.endpoint_url, "not-the-key"],
    )
    assert thrown == "The api key is not valid for this endpoint."


def test_the_event_source_example_streams_the_workflow_and_closes(on_web_page, endpoint):
    endpoint.settings = {key: value for key, value in endpoint.settings.items() if key != "api_key"}
    on_web_page.evaluate(
        "([BASE]) => {\n"
        "  const output = document.body.appendChild(document.createElement('pre'));\n"
        f"{EVENT_SOURCE_EXAMPLE}\n"
        "  window.readme = { source, output };\n"
        "}",
        [endpoint.endpoint_url],
    )
    # The example closes its source on the workflow's last event; a source left open would reconnect for ever.
    on_web_page.wait_for_function("window.readme.source.readyState === EventSource.CLOSED", timeout=30_000)
    assert on_web_page.evaluate("window.readme.output.textContent").strip()
    assert on_web_page.errors == []
