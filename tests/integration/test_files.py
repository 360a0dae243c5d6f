"""Files to apps through the real plugin process: multipart parts named ``inputs.<name>`` are checked against the
app's form, uploaded the way Dify takes them (a signed URL, then a multipart POST), and passed as file inputs; the
files an app returns are linked on its page. The OpenAI and MCP surfaces go through the same checks."""

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DEMO_SETTINGS, SUN_PICTURE, DemoApps
from devkit.plugin import DEFAULT_HOOK_ID

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_HOST = "dify.example.com"
"""The Dify these tests stand for is reached at a public name: its API can fetch the files the plugin serves."""
BOUNDARY = "relay-files-boundary"
MIB = 1024 * 1024
LINE_BOUND = 1 * MIB
"""No stdout line of the plugin may come near the daemon's 5 MiB kill."""
GATE = 123.0
"""The ``silent`` trigger's pause in these tests: it waits for the test's gate instead of the clock."""
JSON = {"Content-Type": "application/json"}
MCP = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


class RecordingDemo(DemoApps):
    """The demo apps, remembering each app call as the plugin made it; ``silent`` waits for ``gate``."""

    def __init__(self) -> None:
        super().__init__(token_delay=0, sleep=self._sleep_or_wait, silence=GATE)
        self.calls: list[dict[str, Any]] = []
        self.fetches = 0
        """``fetch_app`` calls so far: a request asks for an app's parameters once at most."""
        self.gate = threading.Event()

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        self.fetches += 1
        return super().fetch_app(app_id)

    def invoke_app(self, request: dict[str, Any]) -> Any:
        self.calls.append(request)
        return super().invoke_app(request)

    def _sleep_or_wait(self, seconds: float) -> None:
        if seconds == GATE:
            self.gate.wait(30)
        else:
            time.sleep(seconds)


REMOTE = {
    "https://files.example/report.txt": b"A report\nsecond line",
    "https://files.example/notes.md": b"# Notes",
    "https://files.example/brief.txt": b"A brief",
}
"""Files on the web that Dify can fetch; any other address is unreachable, as for Dify."""
SERVED = f"http://{PUBLIC_HOST}/e/{DEFAULT_HOOK_ID}/files/"
"""Where the plugin serves the files a client sent as bytes, under its own endpoint's public address."""


@pytest.fixture(scope="module")
def demo() -> Iterator[RecordingDemo]:
    apps = RecordingDemo()
    apps.reachable.update(REMOTE)
    yield apps
    apps.files.close()


@pytest.fixture(scope="module")
def plugin(demo) -> Iterator[PluginProcess]:
    process = PluginProcess(ROOT, demo, public_host=PUBLIC_HOST)
    process.start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def still_serving_and_small(plugin):
    yield
    assert plugin.alive, "the plugin process died"
    assert plugin.max_line_bytes < LINE_BOUND


def multipart(fields: dict[str, str], files: list[tuple[str, str, str, bytes]]) -> tuple[dict[str, str], bytes]:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts += [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {mimetype}\r\n\r\n".encode()
        + content
        + b"\r\n"
        for name, filename, mimetype, content in files
    ]
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, b"".join(
        parts
    ) + f"--{BOUNDARY}--\r\n".encode()


def send(plugin, files, fields=None, fmt="json"):
    headers, body = multipart({"inputs.topic": "Green tea", **(fields or {})}, files)
    return plugin.request("POST", f"/workflow/outline?format={fmt}", headers=headers, body=body, settings=DEMO_SETTINGS)


def post_json(plugin, path: str, document: dict[str, Any], headers: dict[str, str] = JSON):
    body = json.dumps(document).encode()
    return plugin.request("POST", path, headers=headers, body=body, settings=DEMO_SETTINGS)


def error_of(response) -> tuple[int, str]:
    body = response.json()
    return response.status, body["error"]["message"]


def served(plugin, value: dict[str, Any], name: str, kind: str) -> bytes:
    """What the plugin serves at the address an app's file input was given (checked to be one of its own)."""
    assert value["type"] == kind and value["transfer_method"] == "remote_url"
    assert value["url"].startswith(SERVED) and value["url"].endswith(f"/{name}")
    fetched = plugin.fetch(value["url"])
    assert fetched is not None, "the plugin does not serve the file"
    return fetched[0]


# -- one file, several, mixed with text, refused --------------------------------------------------------------


PNG = base64.b64encode(SUN_PICTURE).decode()


@pytest.mark.parametrize("surface", ["native multipart", "openai image", "mcp file", "form page"])
def test_a_request_asks_dify_for_the_apps_parameters_once_at_most(plugin, demo, surface):
    fetches, calls = demo.fetches, len(demo.calls)
    if surface == "native multipart":
        response = send(plugin, [("inputs.attachment", "notes.txt", "text/plain", b"hello")])
    elif surface == "openai image":
        content = [
            {"type": "text", "text": "tea"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ]
        document = {"model": "outline", "messages": [{"role": "user", "content": content}]}
        response = post_json(plugin, "/v1/chat/completions", document)
    elif surface == "mcp file":
        arguments = {"topic": "tea", "attachment": {"data": "aGk=", "mimeType": "text/plain", "name": "hi.txt"}}
        message = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {"name": "outline", "arguments": arguments},
        }
        response = post_json(plugin, "/mcp", message, {**MCP, "Accept": "application/json"})
    else:
        response = plugin.request("GET", "/workflow/outline", headers={"Accept": "text/html"}, settings=DEMO_SETTINGS)
    assert response.status == 200, response.text()
    if surface == "mcp file":
        assert response.json()["result"]["isError"] is False, response.text()
    assert demo.fetches - fetches == 1
    assert len(demo.calls) - calls == (0 if surface == "form page" else 1)


def test_a_file_reaches_the_app_as_its_file_input(plugin, demo):
    content = b"First line here\nsecond"
    response = send(plugin, [("inputs.attachment", "notes.txt", "text/plain", content)])
    assert response.status == 200, response.text()
    # The app read the file: Dify fetched it from the address the plugin gave it, over the network.
    report = response.json()["data"]["outputs"]["text"]
    assert "Attachment: notes.txt (22 bytes, text/plain), first line: “First line here”" in report
    sent = demo.calls[-1]["inputs"]
    assert sent["topic"] == "Green tea" and served(plugin, sent["attachment"], "notes.txt", "document") == content
    assert demo.files.uploads == 0  # Dify's upload for plugins is never used: Dify cannot give it to an app


def test_a_file_named_by_url_is_relayed_unchanged(plugin, demo):
    remote = {"type": "document", "transfer_method": "remote_url", "url": "https://files.example/report.txt"}
    response = post_json(plugin, "/workflow/outline?format=json", {"inputs": {"topic": "tea", "attachment": remote}})
    report = response.json()["data"]["outputs"]["text"]
    assert "Attachment: report.txt (20 bytes, text/plain), first line: “A report”" in report
    assert demo.calls[-1]["inputs"] == {"topic": "tea", "attachment": remote}
    unreachable = {**remote, "url": "https://files.example/gone.txt"}
    refused = post_json(
        plugin, "/workflow/outline?format=json", {"inputs": {"topic": "tea", "attachment": unreachable}}
    )
    assert error_of(refused) == (400, "Reached maximum retries (3) for URL https://files.example/gone.txt")


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (
            [("inputs.attachment", "a.txt", "text/plain", b"a"), ("inputs.attachment", "b.txt", "text/plain", b"b")],
            "takes one file",
        ),
        ([("inputs.attachment", "clip.mp4", "video/mp4", b"\x00\x01")], "is a video"),
        ([("inputs.sources", "deck.pptx", "application/vnd.ms-powerpoint", b"x")], "takes custom (.txt, .md"),
        ([("inputs.attachment", "empty.txt", "text/plain", b"")], "has no content"),
        ([("inputs.attachment", "", "text/plain", b"content")], "has no file name"),
        ([("inputs.topic", "t.txt", "text/plain", b"x")], "is not a file input"),
        ([("photo", "p.png", "image/png", b"x")], "must be named inputs.<name>"),
        ([("inputs.attachment", "n.txt", "not a type", b"x")], "must be a MIME type"),
    ],
)
def test_files_the_app_would_refuse_are_400_before_anything_is_uploaded(plugin, demo, files, needle):
    uploads, requests_made, calls = demo.files.uploads, len(demo.files.upload_requests), len(demo.calls)
    status, message = error_of(send(plugin, files))
    assert status == 400 and needle in message
    assert demo.files.uploads == uploads and len(demo.files.upload_requests) == requests_made
    assert len(demo.calls) == calls


def test_a_file_field_left_empty_by_a_browser_is_no_file(plugin, demo):
    response = send(plugin, [("inputs.attachment", "", "application/octet-stream", b"")])
    assert response.status == 200
    assert demo.calls[-1]["inputs"] == {"topic": "Green tea"}


def test_on_a_dify_at_a_local_address_a_file_sent_as_bytes_is_refused_before_the_run(plugin, demo):
    calls = len(demo.calls)
    plugin.public_host = "127.0.0.1"  # Dify's proxy refuses private addresses: it could not fetch the file
    try:
        status, message = error_of(send(plugin, [("inputs.attachment", "n.txt", "text/plain", b"x")]))
    finally:
        plugin.public_host = PUBLIC_HOST
    assert status == 400 and "cannot reach the app" in message and "by URL" in message
    assert len(demo.calls) == calls


def test_several_files_fill_a_file_list_input(plugin, demo):
    files = [("inputs.sources", f"s{i}.txt", "text/plain", f"source {i}".encode()) for i in range(3)]
    response = send(plugin, files)
    report = response.json()["data"]["outputs"]["text"]
    assert [f"Attachment: s{i}.txt (8 bytes" in report for i in range(3)] == [True, True, True]
    # sources takes only custom files (by extension): each goes as "custom", which Dify accepts for such an input
    sources = demo.calls[-1]["inputs"]["sources"]
    contents = [served(plugin, value, f"s{i}.txt", "custom") for i, value in enumerate(sources)]
    assert contents == [f"source {i}".encode() for i in range(3)]
    four = [*files, ("inputs.sources", "s3.txt", "text/plain", b"x")]
    assert error_of(send(plugin, four)) == (400, "sources takes at most 3 files; 4 were sent.")


def test_a_link_let_in_by_its_extension_goes_as_custom_and_dify_takes_it(plugin, demo):
    url = "https://files.example/notes.md"
    # sources takes only custom files: Dify refuses a link typed "document" there, and takes it typed "custom"
    as_document = {"transfer_method": "remote_url", "url": url, "type": "document"}
    refused = post_json(plugin, "/workflow/outline?format=json", {"inputs": {"topic": "tea", "sources": [as_document]}})
    assert error_of(refused)[1] == "File validation failed for file: notes.md"
    # the MCP surface types the link itself, by the input's rules
    mcp = post_json(
        plugin,
        "/mcp",
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "outline", "arguments": {"topic": "tea", "sources": [{"url": url}]}},
        },
        MCP,
    )
    assert "Attachment: notes.md (7 bytes" in mcp.text()
    assert demo.calls[-1]["inputs"] == {
        "topic": "tea",
        "sources": [{"type": "custom", "transfer_method": "remote_url", "url": url}],
    }


def test_files_with_text_fields_too_large_or_broken(plugin, demo):
    mixed = send(plugin, [("inputs.attachment", "n.txt", "text/plain", b"mixed")], {"inputs.tone": "formal"})
    assert mixed.status == 200
    sent = demo.calls[-1]["inputs"]
    assert (sent["topic"], sent["tone"]) == ("Green tea", "formal")
    assert served(plugin, sent["attachment"], "n.txt", "document") == b"mixed"
    too_large = send(plugin, [("inputs.attachment", "big.txt", "text/plain", b"x" * (8 * MIB + 1))])
    assert too_large.status == 413
    broken = plugin.request(
        "POST",
        "/workflow/outline?format=json",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        body=f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=".encode(),
        settings=DEMO_SETTINGS,
    )
    assert error_of(broken)[0] == 400


def test_the_largest_file_the_body_limit_allows_goes_through(plugin, demo, capsys):
    content = bytes(range(256)) * ((8 * MIB - 4096) // 256)
    started = time.perf_counter()
    response = send(plugin, [("inputs.attachment", "big.txt", "text/plain", content)])
    assert response.status == 200, response.text()
    elapsed = time.perf_counter() - started
    assert served(plugin, demo.calls[-1]["inputs"]["attachment"], "big.txt", "document") == content
    with capsys.disabled():  # the figure for the README's limits, not a condition of the test
        print(f"\n{len(content)} bytes sent, served to Dify and read by the app in {elapsed:.2f} s")


# -- names and types bounded, on every surface --------------------------------------------------------------------

HUGE = "x" * (6 * MIB)


def test_a_huge_file_name_or_type_is_400_on_every_surface_and_a_stream_in_flight_goes_on(plugin, demo):
    demo.gate.clear()
    stream = plugin.request("GET", "/workflow/outline?inputs.topic=silent+tea&format=ndjson", settings=DEMO_SETTINGS)
    first = next(stream.chunks())
    requests_made, calls = len(demo.files.upload_requests), len(demo.calls)

    native = send(plugin, [("inputs.attachment", HUGE + ".txt", "text/plain", b"hi")])
    openai = post_json(
        plugin,
        "/v1/chat/completions",
        {
            "model": "outline",
            "query_input": "topic",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "tea"},
                        {"type": "image_url", "image_url": {"url": f"data:image/{HUGE};base64,aGk="}},
                    ],
                }
            ],
        },
    )
    mcp = post_json(
        plugin,
        "/mcp",
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {
                "name": "outline",
                "arguments": {"topic": "tea", "attachment": {"data": "aGk=", "mimeType": "text/plain", "name": HUGE}},
            },
        },
        MCP,
    )

    status, message = error_of(native)
    assert status == 400 and "is too long: at most 255 bytes (UTF-8)" in message and len(message) < 400
    assert openai.status == 400
    openai_message = openai.json()["error"]["message"]
    assert "must be a MIME type (type/subtype, at most 127 characters)" in openai_message and len(openai_message) < 400
    result = mcp.json()["result"]
    assert result["isError"] and "is too long: at most 255 bytes (UTF-8)" in result["content"][0]["text"]
    assert len(demo.files.upload_requests) == requests_made and len(demo.calls) == calls

    demo.gate.set()
    events = [json.loads(line) for line in (first + b"".join(stream.chunks())).splitlines()]
    assert events[0]["event"] == "workflow_started" and events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["status"] == "succeeded" and stream.error is None


def test_names_lose_their_folders_and_types_their_parameters_so_that_dify_takes_them(plugin, demo):
    data = base64.b64encode(b"from a folder").decode()
    attachment = {"data": data, "mimeType": "Text/Plain; charset=utf-8", "name": "docs/drafts/brief.txt"}
    response = post_json(
        plugin,
        "/mcp",
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "outline", "arguments": {"topic": "tea", "attachment": attachment}},
        },
        MCP,
    )
    assert "Attachment: brief.txt (13 bytes, text/plain), first line: “from a folder”" in response.text()
    assert demo.calls[-1]["inputs"]["attachment"]["url"].endswith("/brief.txt")


# -- the form and the files an app returns --------------------------------------------------------------------


class Links(HTMLParser):
    """Every ``<a href>`` and every file ``<input>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.file_inputs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag == "input" and found.get("type") == "file":
            self.file_inputs[str(found["name"])] = found


def links_of(page: str) -> Links:
    parser = Links()
    parser.feed(page)
    return parser


def test_the_form_s_file_fields_accept_what_the_inputs_take_and_lists_take_several(plugin):
    page = plugin.request("GET", "/workflow/outline", headers={"Accept": "text/html"}, settings=DEMO_SETTINGS).text()
    assert 'enctype="multipart/form-data"' in page
    fields = links_of(page).file_inputs
    assert set(fields) == {"inputs.attachment", "inputs.sources"}
    # attachment takes documents (anything): no filter; sources takes only custom files with these extensions
    assert "accept" not in fields["inputs.attachment"] and "multiple" not in fields["inputs.attachment"]
    assert fields["inputs.sources"]["accept"] == ".txt,.md,.csv,.json,.pdf"
    assert "multiple" in fields["inputs.sources"]


def test_the_result_page_offers_to_send_a_file_again(plugin):
    response = send(plugin, [("inputs.attachment", "notes.md", "text/markdown", b"# Title")], fmt="html")
    page = response.text()
    assert response.status == 200 and "Attachment: notes.md" in page
    assert 'enctype="multipart/form-data"' in page
    assert "inputs.attachment" in links_of(page).file_inputs


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.headers["Content-Type"], answer.read()


def returned_file_links(demo, page: str, before: set[str]) -> dict[str, str]:
    """The page's links to tool files, by the file's id; each must be a file the app made for this answer."""
    links = {}
    for href in links_of(page).hrefs:
        path = urlsplit(href).path
        if path.startswith("/files/tools/"):
            links[path.removeprefix("/files/tools/").split(".", 1)[0]] = href
    made = set(demo.files.files) - before
    assert set(links) == made and made, (links, made)
    return links


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/chat/agent", {"query": "Show me a picture of the weather"}),  # a message_file event
        ("/workflow/outline", {"inputs.topic": "A picture of tea"}),  # a file among the outputs
    ],
)
def test_the_page_links_each_file_the_app_returned_and_the_link_serves_it(plugin, demo, path, form):
    before = set(demo.files.files)
    headers, body = multipart(form, [])
    page = plugin.request("POST", f"{path}?format=html", headers=headers, body=body, settings=DEMO_SETTINGS).text()
    for file_id, href in returned_file_links(demo, page, before).items():
        assert fetch(href) == (200, "image/png", SUN_PICTURE)
        assert demo.files.files[file_id].content == SUN_PICTURE


def test_the_streamed_events_carry_the_same_files_the_page_links(plugin, demo):
    agent = plugin.request("GET", "/chat/agent?query=picture&format=ndjson", settings=DEMO_SETTINGS).lines()
    (announced,) = [event for event in agent if event["event"] == "message_file"]
    assert (announced["type"], announced["belongs_to"]) == ("image", "assistant")
    assert fetch(announced["url"])[2] == SUN_PICTURE
    workflow = plugin.request(
        "GET", "/workflow/outline?inputs.topic=picture&format=ndjson", settings=DEMO_SETTINGS
    ).lines()
    (cover,) = workflow[-1]["data"]["outputs"]["cover"]
    assert cover["dify_model_identity"] == "__dify__file__" and cover["filename"] == "cover.png"
    assert fetch(cover["url"])[2] == SUN_PICTURE


@pytest.mark.parametrize("name", ["a\x00b.txt", "a\nb.txt", "a\rb.txt", "a\tb.txt"], ids=["nul", "lf", "cr", "tab"])
def test_a_file_name_with_control_characters_is_400_before_any_upload(plugin, demo, name):
    requests_made, calls = len(demo.files.upload_requests), len(demo.calls)
    response = send(plugin, [("inputs.attachment", name, "text/plain", b"hi")])
    assert response.status == 400, response.text()
    assert len(demo.files.upload_requests) == requests_made and len(demo.calls) == calls


def test_an_exe_sent_as_a_document_is_400_before_any_upload(plugin, demo):
    requests_made, calls = len(demo.files.upload_requests), len(demo.calls)
    response = send(plugin, [("inputs.attachment", "setup.exe", "application/octet-stream", b"MZ")])
    status, message = error_of(response)
    assert status == 400 and "setup.exe" in message and "custom" in message
    assert len(demo.files.upload_requests) == requests_made and len(demo.calls) == calls
