"""Files to apps through the real plugin process: multipart parts named ``inputs.<name>`` are checked against the
app's form, uploaded the way Dify takes them (a signed URL, then a multipart POST), and passed as file inputs."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DEMO_SETTINGS, DemoApps

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = "relay-files-boundary"


class RecordingDemo(DemoApps):
    """The demo apps, remembering each app call as the plugin made it."""

    def __init__(self) -> None:
        super().__init__(token_delay=0)
        self.calls: list[dict[str, Any]] = []

    def invoke_app(self, request: dict[str, Any]) -> Any:
        self.calls.append(request)
        return super().invoke_app(request)


@pytest.fixture(scope="module")
def demo() -> RecordingDemo:
    return RecordingDemo()


@pytest.fixture(scope="module")
def plugin(demo) -> Iterator[PluginProcess]:
    process = PluginProcess(ROOT, demo)
    process.start()
    yield process
    process.stop()


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


def error_of(response) -> tuple[int, str]:
    body = response.json()
    return response.status, body["error"]["message"]


def test_a_file_reaches_the_app_as_its_file_input(plugin, demo):
    uploads = demo.files.uploads
    response = send(plugin, [("inputs.attachment", "notes.txt", "text/plain", b"First line here\nsecond")])
    assert response.status == 200, response.text()
    report = response.json()["data"]["outputs"]["text"]
    assert "Attachment: notes.txt (22 bytes, text/plain), first line: “First line here”" in report
    assert demo.files.uploads == uploads + 1
    (stored,) = [file for file in demo.files.files.values() if file.name == "notes.txt"][-1:]
    assert demo.calls[-1]["inputs"]["attachment"] == {
        "tool_file_id": stored.id,
        "transfer_method": "tool_file",
        "type": "document",
    }
    assert demo.calls[-1]["inputs"]["topic"] == "Green tea"


def test_a_file_named_by_url_is_relayed_unchanged(plugin, demo):
    remote = {"type": "document", "transfer_method": "remote_url", "url": "https://files.example/report.txt"}
    body = json.dumps({"inputs": {"topic": "tea", "attachment": remote}}).encode()
    response = plugin.request(
        "POST",
        "/workflow/outline?format=json",
        headers={"Content-Type": "application/json"},
        body=body,
        settings=DEMO_SETTINGS,
    )
    assert "Attachment by URL: https://files.example/report.txt" in response.json()["data"]["outputs"]["text"]
    assert demo.calls[-1]["inputs"]["attachment"] == remote


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (
            [("inputs.attachment", "a.txt", "text/plain", b"a"), ("inputs.attachment", "b.txt", "text/plain", b"b")],
            "takes one file",
        ),
        ([("inputs.attachment", "clip.mp4", "video/mp4", b"\x00\x01")], "is a video"),
        ([("inputs.attachment", "empty.txt", "text/plain", b"")], "has no content"),
        ([("inputs.attachment", "", "text/plain", b"content")], "has no file name"),
        ([("inputs.topic", "t.txt", "text/plain", b"x")], "is not a file input"),
        ([("photo", "p.png", "image/png", b"x")], "must be named inputs.<name>"),
    ],
)
def test_files_the_app_would_refuse_are_400_before_anything_is_uploaded(plugin, demo, files, needle):
    uploads, calls = demo.files.uploads, len(demo.calls)
    status, message = error_of(send(plugin, files))
    assert status == 400 and needle in message
    assert demo.files.uploads == uploads and len(demo.calls) == calls


def test_a_file_field_left_empty_by_a_browser_is_no_file(plugin, demo):
    response = send(plugin, [("inputs.attachment", "", "application/octet-stream", b"")])
    assert response.status == 200
    assert "attachment" not in {name for name, value in demo.calls[-1]["inputs"].items() if value}


def test_a_failed_upload_is_502_and_the_app_is_not_called(plugin, demo):
    calls = len(demo.calls)
    original = demo.files.receive
    demo.files.receive = lambda *args: (500, {"message": "Internal Server Error", "code": "unknown", "status": 500})
    try:
        status, message = error_of(send(plugin, [("inputs.attachment", "n.txt", "text/plain", b"x")]))
    finally:
        demo.files.receive = original
    assert status == 502 and "could not be uploaded to Dify" in message
    assert len(demo.calls) == calls


def test_the_result_page_of_a_file_the_app_returned_links_it(plugin):
    response = send(plugin, [("inputs.attachment", "notes.md", "text/markdown", b"# Title")], fmt="html")
    page = response.text()
    assert response.status == 200 and "Attachment: notes.md" in page
    assert 'enctype="multipart/form-data"' in page  # Run again can send a file again
    assert '<input type="file" name="inputs.attachment"' in page


def test_several_files_fill_a_file_list_input(plugin, demo):
    files = [("inputs.sources", f"s{i}.txt", "text/plain", f"source {i}".encode()) for i in range(3)]
    response = send(plugin, files)
    report = response.json()["data"]["outputs"]["text"]
    assert [f"s{i}.txt" in report for i in range(3)] == [True, True, True]
    sources = demo.calls[-1]["inputs"]["sources"]
    assert len(sources) == 3 and all(item["transfer_method"] == "tool_file" for item in sources)
    four = [*files, ("inputs.sources", "s3.txt", "text/plain", b"x")]
    assert error_of(send(plugin, four)) == (400, "sources takes at most 3 files; 4 were sent.")


def test_files_with_text_fields_too_large_or_broken(plugin, demo):
    mixed = send(plugin, [("inputs.attachment", "n.txt", "text/plain", b"mixed")], {"inputs.tone": "formal"})
    assert demo.calls[-1]["inputs"]["tone"] == "formal" and mixed.status == 200
    too_large = send(plugin, [("inputs.attachment", "big.txt", "text/plain", b"x" * (8 * 1024 * 1024 + 1))])
    assert too_large.status == 413
    broken = plugin.request(
        "POST",
        "/workflow/outline?format=json",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        body=f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=".encode(),
        settings=DEMO_SETTINGS,
    )
    assert error_of(broken)[0] == 400
