"""Files a client sent, served by the plugin itself at short-lived signed addresses, so that Dify can read them.

Measured on Dify 1.16: a plugin's upload (``session.file.upload``) never reaches an app readable: as a
``tool_file`` it is refused ("ToolFile <id> not found": it belongs to another end user than the run), and passed
as a ``remote_url`` with its signed ``preview_url`` it is accepted but unreadable (Dify serves its own signed URLs
from its database under the same owner check). What Dify does read is a ``remote_url`` it fetches over the
network, through its SSRF proxy, which refuses private and local addresses.

So the plugin keeps the bytes itself while the app runs, and gives the app a ``remote_url`` under its own endpoint
URL (``<endpoint>/files/<token>``), which the ``relay.file_links`` surface answers. The token names the file and
when it expires, signed with a secret of this plugin (kept in plugin storage) for this endpoint: nobody can guess
another file's address, and an address works on its own endpoint only. The bytes live in this process's memory,
bounded (``MAX_SERVED_BYTES`` in all, oldest out) and for ``SERVED_SECONDS`` at most: enough for Dify to check the
file when it builds the input and to read it while the run goes on.

What this needs of a Dify install: its public URL (``Dify-Hook-Url``, the endpoint's own address) must be one its
API can fetch through its proxy, so a public hostname. An endpoint whose URL names a local or private host (a
Dify on ``localhost``, an intranet address) cannot be read back by Dify: files sent as bytes are refused there with
a 400 that says so and what works instead (a file by URL). Several copies of the plugin behind one Dify (the
serverless runtime) may answer the file's address from another copy that does not hold it: Dify then reads a 404.
"""

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from relay.core.errors import invalid_request, shown
from relay.core.secrets import stored_secret

if TYPE_CHECKING:
    from relay.core.dify import Storage

SERVED_SECONDS = 15 * 60
"""How long a file's address works: Dify checks a file when it builds the input and reads it during the run."""
MAX_SERVED_BYTES = 64 * 1024 * 1024
"""Bytes held for Dify at once, all endpoints together: past it, the oldest files go first."""
SECRET_KEY = "ar2:files-secret"  # noqa: S105 - a storage key, not a secret
"""Where the plugin keeps the secret its file addresses are signed with (64 hex characters)."""
FILES_PATH = "/files/"

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "host.docker.internal")


@dataclass(frozen=True)
class ServedFile:
    content: bytes
    mimetype: str
    filename: str
    expires: float


class ServedFiles:
    """The files held for Dify in this process: bounded in bytes, each for ``SERVED_SECONDS`` at most."""

    def __init__(self, limit: int = MAX_SERVED_BYTES) -> None:
        self._files: OrderedDict[str, ServedFile] = OrderedDict()
        self._bytes = 0
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, content: bytes, mimetype: str, filename: str, now: float | None = None) -> tuple[str, float]:
        """Hold ``content``; its id and when it expires."""
        now = time.time() if now is None else now
        ident = secrets.token_hex(16)
        expires = now + SERVED_SECONDS
        with self._lock:
            self._expire(now)
            while self._files and self._bytes + len(content) > self._limit:
                _, dropped = self._files.popitem(last=False)
                self._bytes -= len(dropped.content)
            self._files[ident] = ServedFile(content, mimetype, filename, expires)
            self._bytes += len(content)
        return ident, expires

    def get(self, ident: str, now: float | None = None) -> ServedFile | None:
        now = time.time() if now is None else now
        with self._lock:
            self._expire(now)
            return self._files.get(ident)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def _expire(self, now: float) -> None:
        for ident in [ident for ident, file in self._files.items() if file.expires <= now]:
            self._bytes -= len(self._files.pop(ident).content)


SERVED = ServedFiles()
"""This process's files (one plugin process serves every endpoint of the plugin)."""


class FileSigner:
    """Signs and checks file addresses for one endpoint, with the plugin's secret."""

    def __init__(self, storage: "Storage", endpoint_id: str) -> None:
        self._storage = storage
        self._endpoint = endpoint_id
        self._key: bytes | None = None

    def token(self, ident: str, expires: float) -> str:
        stamp = str(int(expires))
        return f"{ident}.{stamp}.{self._signature(ident, stamp)}"

    def check(self, token: str, now: float | None = None) -> str | None:
        """The file id a token names, if it is this endpoint's, well signed and not expired."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[0]) != 32:
            return None
        ident, stamp, signature = parts
        if int(stamp) <= (time.time() if now is None else now):
            return None
        return ident if hmac.compare_digest(signature, self._signature(ident, stamp)) else None

    def _signature(self, ident: str, stamp: str) -> str:
        message = f"{self._endpoint}\0{ident}\0{stamp}".encode()
        return hmac.new(self._secret(), message, hashlib.sha256).hexdigest()[:40]

    def _secret(self) -> bytes:
        if self._key is None:
            self._key = signing_secret(self._storage)
        return self._key


def signing_secret(storage: "Storage") -> bytes:
    """The plugin's signing secret for file addresses (and, with keys of their own, response ids)."""
    return stored_secret(storage, SECRET_KEY)


@dataclass(frozen=True)
class FileLinks:
    """Where this request's endpoint serves files: its public base URL and its signer."""

    base_url: str
    """``<scheme>://<host>/e/<hook_id>`` as Dify's nginx told the daemon (``Dify-Hook-Url``); ``""`` if unknown."""
    signer: FileSigner

    def link(self, content: bytes, mimetype: str, filename: str) -> str:
        """An address Dify can fetch the file at while the app runs; a 400 where Dify could not fetch it."""
        reason = unreachable_reason(self.base_url)
        if reason is not None:
            raise invalid_request(
                f"The file {shown(filename)} cannot reach the app: Dify reads a plugin's files only by fetching them "
                f"from the endpoint's public address, and {reason}. Send the file by URL instead (an address Dify "
                "can fetch), or use this endpoint through a public hostname."
            )
        ident, expires = SERVED.add(content, mimetype, filename)
        return f"{self.base_url}{FILES_PATH}{self.signer.token(ident, expires)}/{quote(filename, safe='')}"


def endpoint_base(hook_url: str | None, hook_id: str | None) -> str:
    """The endpoint's public base URL from ``Dify-Hook-Url`` (``…/e/<hook_id>/<path>?<query>``)."""
    if not hook_url or not hook_id:
        return ""
    marker = f"/e/{hook_id}"
    at = hook_url.find(marker)
    parts = urlsplit(hook_url)
    if at < 0 or parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return hook_url[: at + len(marker)]


def unreachable_reason(base_url: str) -> str | None:
    """Why Dify's API could not fetch an address under ``base_url`` through its SSRF proxy, or ``None``."""
    if not base_url:
        return "this request does not say the endpoint's public address (no Dify-Hook-Url)"
    host = urlsplit(base_url).hostname or ""
    if host in _LOCAL_NAMES or host.endswith(".localhost") or ("." not in host and ":" not in host):
        return f"{host} is a local name, which Dify's proxy refuses"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return f"{host} is a private or local address, which Dify's proxy refuses"
    return None
