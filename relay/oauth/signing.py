"""Everything OAuth hands out is signed, so that almost nothing needs remembering.

A signed value is ``<kind>.<payload>.<mac>``: the payload is base64url JSON (with ``e``, when it expires, in unix
seconds), the mac HMAC-SHA256 over the kind and the payload, cut to 32 bytes. The key is derived for each kind
from the plugin's OAuth secret, the endpoint's id and its issuer URL: a client id, an authorization request carried
by the page's form, an approval, a code, an access token and a refresh token can never be taken for one another,
and nothing signed for one endpoint (or for one public URL of it) is valid on another.

The secret: 32 random bytes, made on first use and kept in plugin storage under ``ar2:oauth-secret`` (64 hex
characters; one for the plugin in a workspace, whatever the number of endpoints: each endpoint's keys are derived
from it). A storage that cannot keep it (not enabled, full) gets a process-wide secret instead: what it signs then
lasts as long as the process. It is not the secret of ``relay.core.served``'s file addresses, which is another.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from relay.core.secrets import stored_secret

if TYPE_CHECKING:
    from relay.core.dify import Storage


SECRET_KEY = "ar2:oauth-secret"  # noqa: S105 - a storage key, not a secret
MAX_SIGNED_CHARS = 8192
"""Longer than anything this server signs (a client id with its redirect URIs stays under 3,000)."""
MAC_BYTES = 32

CLIENT = "ci1"
REQUEST = "rq1"
APPROVAL = "ap1"
CODE = "ac1"
ACCESS = "at1"
REFRESH = "rt1"
KINDS = (CLIENT, REQUEST, APPROVAL, CODE, ACCESS, REFRESH)
"""What is signed: registered clients, authorization requests in a form, approvals, codes, access and refresh
tokens. Each kind has its own key and its own prefix."""
CLIENT_SECRET = "client-secret"  # noqa: S105 - a purpose, not a secret
KEY_ID = "key-id"
"""Two purposes that are macs, not signed values: a registered client's secret, and which api key approved."""

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_SECRETS_CACHED = 256
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()


class Signer:
    """Signs and checks this server's values for one endpoint and one issuer."""

    def __init__(self, storage: "Storage", endpoint_id: str, issuer: str) -> None:
        self._storage = storage
        self._endpoint = endpoint_id
        self._issuer = issuer
        self._secret: bytes | None = None
        self._keys: dict[str, bytes] = {}

    def seal(self, kind: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=True, sort_keys=True).encode())
        return f"{kind}.{body}.{_b64(self._mac(kind, f'{kind}.{body}'.encode()))}"

    def open(self, kind: str, value: Any, now: float | None = None) -> dict[str, Any] | None:
        """The payload of a value this server signed as ``kind`` for this endpoint, if it is unexpired; else
        ``None`` (never a reason: a forged value learns nothing)."""
        if not isinstance(value, str) or len(value) > MAX_SIGNED_CHARS or not value.startswith(kind + "."):
            return None
        parts = value.split(".")
        if len(parts) != 3 or not all(_BASE64URL.fullmatch(part) for part in parts[1:]):
            return None
        try:
            mac = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, self._mac(kind, f"{parts[0]}.{parts[1]}".encode())):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (binascii.Error, ValueError):  # pragma: no cover - signed by this server: always readable
            return None
        if not isinstance(payload, dict):  # pragma: no cover - likewise
            return None
        expires = payload.get("e")
        if isinstance(expires, int) and expires <= (time.time() if now is None else now):
            return None
        return payload

    def mac(self, purpose: str, text: str) -> str:
        """A keyed digest for ``purpose`` (a client secret, an api key's id), base64url."""
        return _b64(self._mac(purpose, text.encode("utf-8", "surrogatepass")))

    def _mac(self, purpose: str, message: bytes) -> bytes:
        key = self._keys.get(purpose)
        if key is None:
            derivation = f"app-relay oauth\0{purpose}\0{self._endpoint}\0{self._issuer}".encode("utf-8", "replace")
            key = hmac.new(self._load_secret(), derivation, hashlib.sha256).digest()
            self._keys[purpose] = key
        return hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]

    def _load_secret(self) -> bytes:
        if self._secret is None:
            self._secret = plugin_secret(self._storage, self._endpoint)
        return self._secret


def plugin_secret(storage: "Storage", endpoint_id: str) -> bytes:
    """The plugin's OAuth secret in this endpoint's workspace, made on first use.

    Kept in this process once read back from storage, per endpoint (an endpoint belongs to one workspace, whose
    storage holds one secret): a request with a token then costs no storage read for it. Two copies of the plugin
    making it at once may each write one; the one read back after writing is used, and cached only once read.
    """
    with _cache_lock:
        cached = _cache.get(endpoint_id)
        if cached is not None:
            _cache.move_to_end(endpoint_id)
            return cached
    stored = stored_secret(storage, SECRET_KEY)
    with _cache_lock:
        _cache[endpoint_id] = stored
        while len(_cache) > _SECRETS_CACHED:
            _cache.popitem(last=False)
    return stored


def forget_secrets() -> None:
    """Empty this process's cache of secrets (tests: a new fake storage is a new workspace)."""
    with _cache_lock:
        _cache.clear()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
