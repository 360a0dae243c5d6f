"""The local files service answers the SDK's upload exactly as Dify's does: signed URL, checks, 201 body, preview.

Each upload is posted the way ``dify_plugin``'s ``session.file.upload`` posts it: ``requests`` with
``files={"file": (filename, content, mimetype)}`` to the signed URL, expecting 201.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from devkit.daemon.files import (
    DEFAULT_END_USER_ID,
    FILES_ACCESS_TIMEOUT,
    TENANT_ID,
    UPLOAD_PATH,
    FileService,
    ToolFile,
)

FORBIDDEN = {"code": "forbidden", "message": "Invalid request.", "status": 403}
NOW = 1_800_000_000.0


class Clock:
    """Dify's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def module_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def module_service(module_clock) -> Iterator[FileService]:
    files = FileService(clock=module_clock)
    yield files
    files.close()


@pytest.fixture
def clock(module_clock) -> Clock:
    module_clock.now = NOW
    return module_clock


@pytest.fixture
def service(module_service, clock) -> FileService:
    """One server for the module (it starts once); each test begins with an empty store."""
    module_service.files.clear()
    module_service.upload_requests.clear()
    module_service.uploads = 0
    return module_service


def signed_url(service: FileService, filename: str = "notes.txt", mimetype: str = "text/plain") -> str:
    return service.sign_upload({"filename": filename, "mimetype": mimetype})["url"]


def post(url: str, filename: str | None = "notes.txt", content: bytes = b"hello", mimetype: str | None = "text/plain"):
    return requests.post(url, files={"file": (filename, content, mimetype)}, timeout=10)


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    query = {**query_of(url), **changes}
    return url.split("?", 1)[0] + "?" + "&".join(f"{name}={value}" for name, value in query.items())


# -- step 1: the upload_file backwards call ----------------------------------------------------------------------


def test_the_signed_url_carries_only_dify_s_five_fields(service):
    url = signed_url(service, "report.pdf", "application/pdf")
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1", UPLOAD_PATH)
    query = query_of(url)
    assert list(query) == ["timestamp", "nonce", "sign", "user_id", "tenant_id"]
    assert query["timestamp"] == str(int(NOW))
    assert (query["user_id"], query["tenant_id"]) == (DEFAULT_END_USER_ID, TENANT_ID)
    assert len(query["nonce"]) == 32 and int(query["nonce"], 16) >= 0


def test_the_signature_is_urlsafe_base64_of_an_hmac_over_name_type_tenant_user_time_and_nonce(service):
    query = query_of(signed_url(service, "report.pdf", "application/pdf"))
    data = f"upload|report.pdf|application/pdf|{TENANT_ID}|{DEFAULT_END_USER_ID}|{query['timestamp']}|{query['nonce']}"
    expected = base64.urlsafe_b64encode(hmac.new(service._secret, data.encode(), hashlib.sha256).digest()).decode()
    assert query["sign"] == expected


def test_each_upload_request_is_recorded_as_the_plugin_sent_it(service):
    signed_url(service, "a.txt", "text/plain")
    signed_url(service, "b.png", "image/png")
    assert service.upload_requests == [
        {"filename": "a.txt", "mimetype": "text/plain"},
        {"filename": "b.png", "mimetype": "image/png"},
    ]


# -- step 2: the multipart POST ----------------------------------------------------------------------------------


def test_the_right_part_is_stored_and_answered_with_dify_s_file_response(service):
    answer = post(signed_url(service, "notes.md", "text/markdown"), "notes.md", b"# Title\nbody", "text/markdown")
    assert answer.status_code == 201
    body = answer.json()
    stored = service.files[body["id"]]
    assert list(body) == [
        "id",
        "name",
        "size",
        "extension",
        "mime_type",
        "created_by",
        "created_at",
        "preview_url",
        "source_url",
        "original_url",
        "user_id",
        "tenant_id",
        "conversation_id",
        "file_key",
    ]
    assert body == {
        "id": stored.id,
        "name": "notes.md",
        "size": 12,
        "extension": ".md",
        "mime_type": "text/markdown",
        "created_by": None,
        "created_at": None,
        "preview_url": body["preview_url"],
        "source_url": None,
        "original_url": None,
        "user_id": DEFAULT_END_USER_ID,
        "tenant_id": TENANT_ID,
        "conversation_id": None,
        "file_key": stored.file_key,
    }
    assert stored.content == b"# Title\nbody" and stored.file_key.startswith(f"tools/{TENANT_ID}/")
    assert stored.file_key.endswith(".md") and service.uploads == 1
    preview = requests.get(body["preview_url"], timeout=10)
    assert (preview.status_code, preview.content) == (200, b"# Title\nbody")
    assert preview.headers["Content-Type"] == "text/markdown; charset=utf-8"


def test_the_extension_comes_from_the_type_and_a_bare_name_gets_it(service):
    body = post(signed_url(service, "README", "text/plain"), "README", b"x", "text/plain").json()
    assert (body["name"], body["extension"]) == ("README.txt", ".txt")
    odd = post(signed_url(service, "data.xyz", "application/x-unknown"), "data.xyz", b"x", "application/x-unknown")
    assert (odd.json()["name"], odd.json()["extension"]) == ("data.xyz", ".bin")


@pytest.mark.parametrize(
    "tampered",
    [
        {"sign": "A" * 43 + "="},
        {"nonce": "0" * 32},
        {"timestamp": str(int(NOW) + 1)},
        {"user_id": "someone-else"},
        {"tenant_id": "another-workspace"},
    ],
)
def test_a_tampered_url_is_403(service, tampered):
    answer = post(with_query(signed_url(service), **tampered))
    assert (answer.status_code, answer.json()) == (403, FORBIDDEN)
    assert service.files == {}


@pytest.mark.parametrize(
    ("filename", "mimetype"),
    [
        ("other.txt", "text/plain"),
        ("notes.txt", "text/csv"),
        # werkzeug hands Dify the type without parameters or case: what was signed no longer matches
        ("notes.txt", "text/plain; charset=utf-8"),
    ],
)
def test_a_part_whose_name_or_type_differs_from_what_was_signed_is_403(service, filename, mimetype):
    url = signed_url(service, "notes.txt", mimetype if mimetype.startswith("text/plain;") else "text/plain")
    answer = post(url, filename, b"hello", mimetype)
    assert (answer.status_code, answer.json()) == (403, FORBIDDEN)


def test_a_signature_whose_fields_are_shifted_by_a_bar_in_the_name_is_403_not_a_crash(service):
    # The signed text joins its fields with "|": a name holding one lets a caller move every field one place along,
    # so the signature still matches while the timestamp is no number. Dify's check refuses it; so does this one.
    query = query_of(signed_url(service, "a|b", "text/plain"))
    shifted = {"tenant_id": "text/plain", "user_id": TENANT_ID, "timestamp": DEFAULT_END_USER_ID}
    shifted["nonce"] = quote(f"{query['timestamp']}|{query['nonce']}", safe="")
    answer = post(with_query(signed_url(service), **{**query, **shifted}), "a", b"hello", "b")
    assert (answer.status_code, answer.json()) == (403, FORBIDDEN)


def test_an_expired_signature_is_403_and_a_fresh_one_is_not(service, clock):
    url = signed_url(service)
    clock.now = NOW + FILES_ACCESS_TIMEOUT + 1
    assert (post(url).status_code, post(url).json()) == (403, FORBIDDEN)
    clock.now = NOW + FILES_ACCESS_TIMEOUT
    assert post(url).status_code == 201


def test_a_part_without_a_name_or_a_type_is_refused_as_dify_refuses_it(service):
    url = signed_url(service)
    nameless = post(url, "", b"hello", "text/plain")
    assert (nameless.status_code, nameless.json()) == (403, FORBIDDEN)
    typeless = post(url, "notes.txt", b"hello", None)  # no Content-Type: werkzeug's mimetype is ""
    assert (typeless.status_code, typeless.json()) == (403, FORBIDDEN)
    no_file = requests.post(url, files={"other": ("notes.txt", b"hello", "text/plain")}, timeout=10)
    assert (no_file.status_code, no_file.json()) == (
        403,
        {"code": "forbidden", "message": "File is required.", "status": 403},
    )


def test_a_query_without_its_fields_is_dify_s_400_invalid_param(service):
    answer = post(f"{service.base_url}{UPLOAD_PATH}?tenant_id={TENANT_ID}")
    body = answer.json()
    assert answer.status_code == 400 and (body["code"], body["status"]) == ("invalid_param", 400)
    assert body["message"].startswith("3 validation errors for _PluginUploadQuery\ntimestamp\n  Field required")


# -- tool files and their links ----------------------------------------------------------------------------------


def test_a_tool_file_s_link_serves_it_while_fresh(service, clock):
    stored = service.create_tool_file("map.png", b"\x89PNG...", "image/png")
    url = service.preview_url(stored)
    assert urlsplit(url).path == f"/files/tools/{stored.id}.png"
    assert list(query_of(url)) == ["timestamp", "nonce", "sign"]
    served = requests.get(url, timeout=10)
    assert (served.status_code, served.headers["Content-Type"], served.content) == (200, "image/png", b"\x89PNG...")
    assert served.headers["Content-Length"] == str(stored.size) and "Content-Disposition" not in served.headers
    download = requests.get(url + "&as_attachment=true", timeout=10)
    assert download.headers["Content-Disposition"] == "attachment; filename*=UTF-8''map.png"
    clock.now = NOW + FILES_ACCESS_TIMEOUT + 1
    expired = requests.get(url, timeout=10)
    assert (expired.status_code, expired.json()) == (403, FORBIDDEN)


def test_a_tampered_link_is_403_and_an_unknown_file_is_dify_s_415(service):
    stored = service.create_tool_file("map.png", b"png", "image/png")
    tampered = requests.get(with_query(service.preview_url(stored), sign="A" * 43 + "="), timeout=10)
    assert (tampered.status_code, tampered.json()) == (403, FORBIDDEN)
    ghost = ToolFile("0d8e4a62-1111-4c2b-9a3e-5f6a7b8c9d0e", "ghost.png", "image/png", b"", "tools/x.png", "u")
    missing = requests.get(service.preview_url(ghost), timeout=10)
    assert (missing.status_code, missing.json()) == (
        415,
        {"code": "unsupported_file_type", "message": "File type not allowed.", "status": 415},
    )


def test_an_html_file_is_always_a_download(service):
    stored = service.create_tool_file("page.html", b"<script>alert(1)</script>", "text/html")
    served = requests.get(service.preview_url(stored), timeout=10)
    assert served.headers["Content-Type"] == "application/octet-stream"
    assert served.headers["Content-Disposition"] == "attachment; filename*=UTF-8''page.html"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_other_paths_and_methods_get_dify_s_json_errors(service):
    lost = requests.get(f"{service.base_url}/files/elsewhere", timeout=10)
    assert lost.status_code == 404 and lost.json()["code"] == "not_found"
    wrong = requests.get(f"{service.base_url}{UPLOAD_PATH}", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
