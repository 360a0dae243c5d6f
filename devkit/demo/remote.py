"""Files an app is given by URL (``transfer_method: remote_url``), as Dify 1.16 builds them before a run.

Dify looks at a remote file before the run (``file_factory``, ``_get_remote_file_info``): the name is the URL's last
path segment, the type is guessed from it, and a HEAD request through its SSRF proxy gives the size
(``Content-Length``, else -1). Measured on 1.16.0-rc1, with a plugin's calls: an unreachable URL is refused after
the proxy's retries (about 3.6 s); a declared ``type`` other than the detected one (``image`` for a ``.txt``) is
refused; a link to Dify's own files service (``FILES_URL``: the ``preview_url`` of a plugin's upload) is never
fetched but resolved from Dify's database, where the owner check fails for a plugin's upload, so the file is
accepted with ``size: -1`` and every node that reads it fails later. A declared ``custom`` type was not measured:
it is not compared with the detected type here; the input's extension rules decide (``inputs.py``). The devkit never
uses the network: which URLs answer is configured (``RemoteFiles.reachable``).
"""

import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from devkit.daemon.process import DifyError
from devkit.demo.events import TEMPLATES, filled

TYPE_MISMATCH = "Detected file type does not match the specified type. Please verify the file."
MAX_RETRIES = 3  # ``SSRF_DEFAULT_MAX_RETRIES``: how often Dify's proxy tries a URL before it gives up

# Dify's extension lists (``api/constants/__init__.py``), which decide a file's type before its MIME type does.
_TYPES_BY_EXTENSION = {
    "image": frozenset({"jpg", "jpeg", "png", "webp", "gif", "svg"}),
    "video": frozenset({"mp4", "mov", "mpeg", "webm"}),
    "audio": frozenset({"mp3", "m4a", "wav", "amr", "mpga"}),
    "document": frozenset(
        {
            "txt", "markdown", "md", "mdx", "pdf", "html", "htm", "xlsx", "xls", "vtt", "properties", "doc", "docx",
            "csv", "eml", "msg", "pptx", "xml", "epub", "ppt",
        }
    ),
}  # fmt: skip


@dataclass(frozen=True)
class RemoteFile:
    """What Dify learns of a URL before the run."""

    url: str
    filename: str
    mime_type: str
    size: int  # ``Content-Length`` of the HEAD answer; -1 when Dify got none

    @property
    def extension(self) -> str:
        """Dify's extension: the MIME type's, else the name's, else ``.bin``."""
        if guessed := mimetypes.guess_extension(self.mime_type):
            return guessed
        return f".{self.filename.rsplit('.', 1)[-1]}" if "." in self.filename else ".bin"

    def detected_type(self) -> str:
        """``_standardize_file_type`` for an undeclared type: by extension first, then by MIME type."""
        extension = self.extension.lstrip(".").lower()
        by_extension = (kind for kind, extensions in _TYPES_BY_EXTENSION.items() if extension in extensions)
        by_mime = (kind for kind in ("image", "video", "audio") if kind in self.mime_type)
        other = "document" if "text" in self.mime_type or "pdf" in self.mime_type else "custom"
        return next(by_extension, None) or next(by_mime, other)


@dataclass
class RemoteFiles:
    """Which URLs answer, standing for the network Dify's proxy reaches."""

    reachable: Mapping[str, bytes] = field(default_factory=dict)  # URL -> the bytes it serves (their size: the HEAD's)
    files_url: str | None = None  # Dify's ``FILES_URL``: links there are resolved from Dify's database, never fetched
    # The rest of the network: URL -> (body, type) for a 200, else ``None`` (the devkit's daemon answers the plugin's
    # own public endpoint through it). A URL that neither ``reachable`` nor ``fetch`` answers cannot be reached.
    fetch: Callable[[str], tuple[bytes, str] | None] | None = None

    def content(self, url: str) -> tuple[bytes, str] | None:
        """What a GET of ``url`` brings (when a node reads the file), or ``None`` when it does not answer."""
        if url in self.reachable:
            return self.reachable[url], mimetypes.guess_type(url.split("?")[0])[0] or "application/octet-stream"
        return self.fetch(url) if self.fetch is not None else None

    def head(self, url: str) -> RemoteFile:
        """What ``_get_remote_file_info`` finds, or Dify's refusal when the URL does not answer."""
        filename = url.split("/")[-1].split("?")[0] or "unknown_file"
        mime_type = mimetypes.guess_type(filename)[0] or ""
        if self._dify_own(url):
            return RemoteFile(url, filename, mime_type, -1)
        answered = self.content(url)
        if answered is None:
            raise DifyError(f"Reached maximum retries ({MAX_RETRIES}) for URL {url}")
        body, served_type = answered
        return RemoteFile(url, filename, mime_type or served_type or "application/octet-stream", len(body))

    def build(self, url: str, declared: str) -> dict[str, Any]:
        """The file at ``url`` of the ``declared`` type, checked as Dify checks it, as ``File.to_dict`` (the recorded
        one) writes it: no message file id, no reference, no related record."""
        remote = self.head(url)
        detected = remote.detected_type()
        if declared in _TYPES_BY_EXTENSION and declared != detected:
            raise DifyError(TYPE_MISMATCH)
        kind = declared if declared != "custom" else detected
        values = {"type": kind, "remote_url": url, "filename": remote.filename, "extension": remote.extension}
        values.update(mime_type=remote.mime_type, size=remote.size, url=url)
        return filled(TEMPLATES["remote file"], values)

    def _dify_own(self, url: str) -> bool:
        if not self.files_url:
            return False
        own, link = urlsplit(self.files_url), urlsplit(url)
        same_origin = (own.scheme, own.hostname, own.port) == (link.scheme, link.hostname, link.port)
        return same_origin and (link.path.startswith("/files/tools/") or link.path.endswith("/file-preview"))
