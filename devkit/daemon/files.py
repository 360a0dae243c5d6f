"""Dify's files service for plugins, on loopback: signed upload URLs, the multipart POST they accept, the tool files
it keeps, and the signed links that serve them back. ``session.file.upload(filename, content, mimetype)`` (SDK
``invocations/file.py``) is two steps:

1. an ``upload_file`` backwards call via the daemon; Dify (``PluginUploadFileRequestApi``) answers ``{"url": ...}``:
   ``{INTERNAL_FILES_URL or FILES_URL}/files/upload/for-plugin?timestamp&nonce&sign&user_id&tenant_id``
   (``get_signed_file_url_for_plugin``, ``api/core/file/helpers.py``), ``sign`` the urlsafe base64 HMAC-SHA256 of
   ``upload|filename|mimetype|tenant_id|user_id|timestamp|nonce`` under Dify's secret (name and type not carried);
2. a multipart POST of the bytes there (field ``file``, 10 s timeout). ``PluginUploadFileApi``
   (``api/controllers/files/upload.py``) checks the signature against the part's name and type (as werkzeug reads
   them: type lower-cased, no parameters) and its age (``FILES_ACCESS_TIMEOUT``), stores a *tool file*
   (``ToolFileManager.create_file_by_raw``) and answers ``201`` with Dify's ``FileResponse``.

The plugin passes ``{"type", "transfer_method": "tool_file", "tool_file_id"}`` to an app as a file input. Apps that
make files (an agent's image tool, a workflow's tool node) store tool files too; ``ToolFileManager.sign_file`` links
them as ``{FILES_URL}/files/tools/<id><extension>?timestamp&nonce&sign``, served by ``ToolFileApi``
(``api/controllers/files/tool_files.py``) while the signature is fresh."""

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from mimetypes import guess_extension
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

UPLOAD_PATH = "/files/upload/for-plugin"
FILES_ACCESS_TIMEOUT = 300  # seconds a signed URL stays valid (Dify's default)
TENANT_ID = "7a6c3f1e-2b4d-4e8a-9c1f-3d5e7a9b1c2d"  # the workspace; real Dify puts the endpoint's tenant here
DEFAULT_END_USER_ID = "6f3c2a1e-9b8d-4c7e-a5f2-0d1e2f3a4b5c"
"""Stands for the workspace's default end user: every endpoint call runs as that one user (session id
``DEFAULT-USER``, ``api/controllers/inner_api/plugin/wraps.py``, ``get_user``), and Dify signs upload URLs for it."""

_ROUTES = Map(
    [
        Rule(UPLOAD_PATH, endpoint="upload", methods=["POST"]),
        Rule("/files/tools/<uuid:file_id>.<string:extension>", endpoint="tool_file", methods=["GET"]),
    ]
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True)
class ToolFile:
    """A file Dify keeps for plugins and tools (``models/tools.py``, ``ToolFile``)."""

    id: str
    name: str
    mimetype: str
    content: bytes
    file_key: str
    user_id: str
    tenant_id: str = TENANT_ID

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def extension(self) -> str:
        """The extension Dify gives it: from the type, whatever the name says."""
        return guess_extension(self.mimetype) or ".bin"


class _PluginUploadQuery(BaseModel):  # what PluginUploadFileApi validates first (a failure is a 400 invalid_param)
    timestamp: str
    nonce: str
    sign: str
    tenant_id: str
    user_id: str | None = None


class _ToolFileQuery(BaseModel):  # what ToolFileApi validates first
    timestamp: str
    nonce: str
    sign: str
    as_attachment: bool = False


@dataclass(eq=False)
class FileService:
    """Dify's files service, in memory (demo apps read what was sent, hand out their own). Thread-safe; ``close`` it."""

    clock: Callable[[], float] = time.time  # Dify's clock, for signing and checking a signature's age (tests move it)
    files: dict[str, ToolFile] = field(default_factory=dict)  # by id
    upload_requests: list[dict[str, Any]] = field(default_factory=list)  # each ``upload_file`` request, as sent
    uploads: int = 0  # uploads accepted so far

    def __post_init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None

    def sign_upload(self, request: Mapping[str, Any], user_id: str = DEFAULT_END_USER_ID) -> dict[str, str]:
        """Dify's answer to ``upload_file``: a URL signed for this file name and type, which it does not carry."""
        with self._lock:
            self.upload_requests.append(dict(request))
        filename, mimetype = str(request.get("filename") or ""), str(request.get("mimetype") or "")
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(16)
        sign = self._sign(f"upload|{filename}|{mimetype}|{TENANT_ID}|{user_id}|{timestamp}|{nonce}")
        # Measured on Dify 1.16.0-rc1: this query is URL-encoded (base64 padding as "%3D"); ``preview_url`` keeps "=".
        query = (
            f"timestamp={timestamp}&nonce={nonce}&sign={quote(sign, safe='')}&user_id={user_id}&tenant_id={TENANT_ID}"
        )
        return {"url": f"{self.base_url}{UPLOAD_PATH}?{query}"}

    def receive(self, args: Mapping[str, str], part: FileStorage | None) -> Response:
        """``PluginUploadFileApi.post``, check for check in Dify's order."""
        try:
            query = _PluginUploadQuery.model_validate(dict(args))
        except ValidationError as exc:  # a ValueError: Dify's handler makes it a 400 invalid_param
            return _error(400, "invalid_param", str(exc))
        if part is None:
            return _error(403, "forbidden", "File is required.")
        # get_user: no id, or the default session, is the workspace's default end user.
        owner = DEFAULT_END_USER_ID if query.user_id in (None, "", "DEFAULT-USER") else str(query.user_id)
        filename, mimetype = part.filename, part.mimetype
        signed = f"upload|{filename}|{mimetype}|{query.tenant_id}|{owner}|{query.timestamp}|{query.nonce}"
        if not filename or not mimetype or not self._fresh(signed, query.timestamp, query.sign):
            return _error(403, "forbidden", "Invalid request.")
        stored = self.create_tool_file(filename, part.read(), mimetype, user_id=owner)
        with self._lock:
            self.uploads += 1
        answer = {
            "id": stored.id,
            "name": stored.name,
            "size": stored.size,
            "extension": stored.extension,
            "mime_type": mimetype,
            "created_by": None,
            "created_at": None,
            "preview_url": self.preview_url(stored),
            "source_url": None,
            "original_url": None,
            "user_id": stored.user_id,
            "tenant_id": stored.tenant_id,
            "conversation_id": None,
            "file_key": stored.file_key,
        }
        return _json(201, answer)

    def create_tool_file(
        self, filename: str, content: bytes, mimetype: str, *, user_id: str = DEFAULT_END_USER_ID
    ) -> ToolFile:
        """``ToolFileManager.create_file_by_raw``: a name without an extension gets the type's one."""
        extension = guess_extension(mimetype) or ".bin"
        stored = ToolFile(
            id=str(uuid.uuid4()),
            name=filename if len(filename.split(".")) > 1 else f"{filename}{extension}",
            mimetype=mimetype,
            content=content,
            file_key=f"tools/{TENANT_ID}/{uuid.uuid4().hex}{extension}",
            user_id=user_id,
        )
        with self._lock:
            self.files[stored.id] = stored
        return stored

    def preview_url(self, stored: ToolFile) -> str:
        """``ToolFileManager.sign_file``: a link that serves the file while its signature is fresh."""
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(16)
        sign = self._sign(f"file-preview|{stored.id}|{timestamp}|{nonce}")
        query = f"timestamp={timestamp}&nonce={nonce}&sign={sign}"
        return f"{self.base_url}/files/tools/{stored.id}{stored.extension}?{query}"

    def serve_tool_file(self, file_id: str, extension: str, args: Mapping[str, str]) -> Response:
        """``ToolFileApi.get``: the file's bytes for a fresh signature."""
        try:
            query = _ToolFileQuery.model_validate(dict(args))
        except ValidationError as exc:
            return _error(400, "invalid_param", str(exc))
        if not self._fresh(f"file-preview|{file_id}|{query.timestamp}|{query.nonce}", query.timestamp, query.sign):
            return _error(403, "forbidden", "Invalid request.")
        stored = self.files.get(file_id)
        if stored is None:  # Dify's NotFound is caught by its own ``except Exception``: the answer is a 415
            return _error(415, "unsupported_file_type", "File type not allowed.")
        response = Response(stored.content, mimetype=stored.mimetype)
        response.headers["Content-Length"] = str(stored.size)
        html = _is_html(stored.mimetype, stored.name, extension)  # enforce_download_for_html
        if query.as_attachment or html:
            response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(stored.name)}"
        if html:
            response.headers["Content-Type"] = "application/octet-stream"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def _sign(self, data: str) -> str:
        digest = hmac.new(self._secret, data.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()

    def _fresh(self, data: str, timestamp: str, sign: str) -> bool:
        """Dify's ``verify_*_signature``: the signature first, then its age."""
        if not hmac.compare_digest(self._sign(data).encode(), sign.encode()):
            return False
        try:  # a name or type holding "|" can shift the signed fields, so the timestamp may be anything
            return self.clock() - int(timestamp) <= FILES_ACCESS_TIMEOUT
        except ValueError:
            return False

    @property
    def base_url(self) -> str:
        """Dify's ``FILES_URL`` (and ``INTERNAL_FILES_URL``): where plugins and browsers reach this service."""
        with self._lock:
            if self._server is None:
                self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
                threading.Thread(  # a short poll: ``close`` waits for the loop's next look (0.5 s by default)
                    target=self._server.serve_forever, args=(0.05,), name="dify-files", daemon=True
                ).start()
            return f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, values = _ROUTES.bind_to_environ(environ).match()
            if endpoint == "upload":
                response = self.receive(request.args, request.files.get("file"))
            else:
                response = self.serve_tool_file(str(values["file_id"]), values["extension"], request.args)
        except HTTPException as exc:  # unrouted paths and methods, worded as Dify's error handler words them
            code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()  # NotFound -> not_found
            response = _error(exc.code or 500, code, exc.description or NotFound.description)
        return response(environ, start_response)


class _QuietHandler(WSGIRequestHandler):  # no request log: the daemon's own output is what a person reads
    def log(self, type: str, message: str, *args: Any) -> None:
        return


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"code": code, "message": message, "status": status})


def _json(status: int, document: Mapping[str, Any]) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


def _is_html(mimetype: str, name: str, extension: str) -> bool:
    suffixes = (extension.lstrip(".").lower(), name.rsplit(".", 1)[-1].lower() if "." in name else "")
    return mimetype.split(";", 1)[0].strip().lower() in _HTML_TYPES or any(s in ("html", "htm") for s in suffixes)
