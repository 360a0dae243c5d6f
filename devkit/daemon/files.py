"""Dify's file upload for plugins, on loopback: a signed URL, the multipart POST it accepts, the files it keeps.

A plugin's ``session.file.upload(filename, content, mimetype)`` is two steps (SDK ``invocations/file.py``):

1. an ``upload_file`` backwards call, which the daemon passes to Dify; Dify answers ``{"url": ...}``, a URL of
   its files service, ``{FILES_URL}/files/upload/for-plugin?timestamp&nonce&sign&user_id&tenant_id``, where
   ``sign`` is an HMAC over ``upload|filename|mimetype|tenant_id|user_id|timestamp|nonce`` with Dify's secret;
2. the plugin itself POSTs the bytes there as multipart (field ``file``, 10 s timeout); Dify checks the signature
   and its age, stores the file and answers ``201`` with ``id``, ``name``, ``size``, ``extension``, ``mime_type``
   and ``preview_url``. The plugin then passes ``{"type", "transfer_method": "tool_file", "tool_file_id"}`` to an
   app as the value of a file input.

This module plays Dify's part of both: ``sign_upload`` for step 1, and a small HTTP server for step 2 that keeps
the files in memory, so demo apps can report what they received.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from werkzeug.formparser import parse_form_data

UPLOAD_PATH = "/files/upload/for-plugin"
SIGNATURE_MAX_AGE = 300
"""Seconds a signed upload URL stays valid (Dify's ``FILES_ACCESS_TIMEOUT`` default)."""
TENANT_ID = "7a6c3f1e-2b4d-4e8a-9c1f-3d5e7a9b1c2d"
"""Stands for the workspace; real Dify puts the endpoint's tenant here."""
MAX_UPLOAD_BYTES = 15 * 1024 * 1024
"""Dify's ``UPLOAD_FILE_SIZE_LIMIT`` default (MB)."""


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    mime_type: str
    content: bytes

    @property
    def extension(self) -> str:
        return ("." + self.name.rsplit(".", 1)[-1].lower()) if "." in self.name else ""


class FileService:
    """Signed upload URLs and the server that honours them. Thread-safe; start it once, close it at the end."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self.uploads = 0
        """Uploads accepted so far."""
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- step 1: the upload_file backwards call ----------------------------------------------------------

    def sign_upload(self, request: dict[str, Any], user_id: str = "") -> dict[str, str]:
        """Dify's answer to ``upload_file``: a signed URL for this filename and mimetype."""
        filename, mimetype = str(request.get("filename") or ""), str(request.get("mimetype") or "")
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        sign = self._sign(filename, mimetype, user_id, timestamp, nonce)
        query = urlencode(
            {
                "timestamp": timestamp,
                "nonce": nonce,
                "sign": sign,
                "user_id": user_id,
                "tenant_id": TENANT_ID,
                "filename": filename,
                "mimetype": mimetype,
            }
        )
        return {"url": f"{self._base_url()}{UPLOAD_PATH}?{query}"}

    def _sign(self, filename: str, mimetype: str, user_id: str, timestamp: str, nonce: str) -> str:
        data = f"upload|{filename}|{mimetype}|{TENANT_ID}|{user_id}|{timestamp}|{nonce}".encode()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    # -- step 2: the multipart POST -------------------------------------------------------------------------

    def receive(self, query: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Check the signature and store the file: Dify's status and JSON answer."""
        fields = {name: values[0] for name, values in parse_qs(query).items()}
        expected = self._sign(
            fields.get("filename", ""),
            fields.get("mimetype", ""),
            fields.get("user_id", ""),
            fields.get("timestamp", ""),
            fields.get("nonce", ""),
        )
        if not hmac.compare_digest(expected, fields.get("sign", "")):
            return 403, {"code": "forbidden", "message": "Invalid request.", "status": 403}
        if time.time() - int(fields.get("timestamp", "0") or 0) > SIGNATURE_MAX_AGE:
            return 403, {"code": "forbidden", "message": "Invalid request.", "status": 403}
        environ = {
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": BytesIO(body),
        }
        _, _, uploaded = parse_form_data(environ)
        part = uploaded.get("file")
        if part is None:
            return 400, {"code": "no_file_uploaded", "message": "Please upload your file.", "status": 400}
        content = part.read()
        if len(content) > MAX_UPLOAD_BYTES:
            return 413, {"code": "file_too_large", "message": "File size exceeded.", "status": 413}
        name = part.filename or fields.get("filename", "")
        mime_type = part.mimetype or fields.get("mimetype") or mimetypes.guess_type(name)[0] or ""
        stored = StoredFile(str(uuid.uuid4()), name, mime_type, content)
        with self._lock:
            self.files[stored.id] = stored
            self.uploads += 1
        return 201, {
            "id": stored.id,
            "name": stored.name,
            "size": len(content),
            "extension": stored.extension,
            "mime_type": stored.mime_type,
            "preview_url": f"{self._base_url()}/files/tools/{stored.id}{stored.extension}",
        }

    # -- the server ----------------------------------------------------------------------------------------

    def _base_url(self) -> str:
        server = self._ensure_server()
        host, port = server.server_address[:2]
        return f"http://{host}:{port}"

    def _ensure_server(self) -> ThreadingHTTPServer:
        with self._lock:
            if self._server is None:
                self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
                self._server.daemon_threads = True
                threading.Thread(target=self._server.serve_forever, name="dify-files", daemon=True).start()
            return self._server

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _handler_for(service: FileService) -> type[BaseHTTPRequestHandler]:
    class UploadHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != UPLOAD_PATH:
                self._answer(404, {"code": "not_found", "message": "Not Found", "status": 404})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, answer = service.receive(parts.query, self.headers.get("Content-Type", ""), body)
            self._answer(status, answer)

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return UploadHandler
