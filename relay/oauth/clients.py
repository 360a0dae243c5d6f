"""OAuth clients: registered on the fly (RFC 7591), or named by the URL of their metadata document.

Two kinds of ``client_id`` reach this server:

* **registered** (Dynamic Client Registration, ``POST /oauth/register``): the client id *is* the registration,
  signed (``ci1.…``: its name, redirect URIs, authentication method and grant types). Nothing is stored; a client
  id of another endpoint, or one altered by a byte, is no client here. Bounded so that an authorization URL that
  carries it stays far below what proxies accept: ``MAX_REDIRECT_URIS`` URIs of at most ``MAX_REDIRECT_URI_CHARS``,
  ``MAX_REDIRECT_URIS_CHARS`` in all, a name of at most ``MAX_NAME_CHARS``, a request of at most
  ``MAX_REGISTRATION_BYTES``. A client that asks for a secret gets one that is a mac of its id: nothing to store
  either.
* **metadata documents** (``https://…``, draft-ietf-oauth-client-id-metadata-document): the client id is an https
  URL whose JSON document names the client and its redirect URIs; ``relay.oauth.documents`` fetches it, within
  bounds, from public addresses only. Such clients are public (``token_endpoint_auth_method: none``).

Redirect URIs are compared exactly, and are https, or http on a loopback address (a native app's listener).
"""

import hashlib
import json
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from relay.core.errors import RelayError, shown
from relay.oauth.errors import oauth_error
from relay.oauth.signing import CLIENT, CLIENT_SECRET, Signer

MAX_REGISTRATION_BYTES = 8 * 1024
MAX_REDIRECT_URIS = 8
MAX_REDIRECT_URI_CHARS = 512
MAX_REDIRECT_URIS_CHARS = 2048
MAX_NAME_CHARS = 100
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
GRANT_TYPES = ("authorization_code", "refresh_token")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
"""Hosts of the http redirect URIs accepted (``urlsplit`` gives ``[::1]`` as ``::1``)."""


@dataclass(frozen=True)
class Client:
    """A client this server knows, for one request."""

    client_id: str
    redirect_uris: tuple[str, ...]
    name: str | None = None
    auth_method: str = "none"
    document: bool = False
    """Named by a metadata document (its client id is the document's https URL)."""

    @property
    def digest(self) -> str:
        """What codes and tokens record of their client: a digest of its id (ids can be long)."""
        return client_digest(self.client_id)

    @property
    def shown_name(self) -> str:
        """How the authorization page names it: the name it gave, else its id's host (documents) or "an app"."""
        if self.name:
            return self.name
        return urlsplit(self.client_id).hostname or "" if self.document else ""

    def redirect_uri(self, asked: str | None) -> str | None:
        """The redirect URI a request may use: the one it names, if registered exactly so; else, when it names
        none, the client's only one."""
        if asked is None:
            return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None
        return asked if asked in self.redirect_uris else None


def client_digest(client_id: str) -> str:
    return hashlib.sha256(b"app-relay oauth client\0" + client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def register(body: bytes, signer: Signer) -> dict[str, Any]:
    """A registration request (RFC 7591 §3.1) -> the client information response (§3.2.1), or a 400 that says
    which metadata is refused (``invalid_redirect_uri``, ``invalid_client_metadata``)."""
    if len(body) > MAX_REGISTRATION_BYTES:
        raise oauth_error(
            413, "invalid_client_metadata", f"A registration request is at most {MAX_REGISTRATION_BYTES} bytes."
        )
    try:
        metadata = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise oauth_error(400, "invalid_client_metadata", "The registration request is not JSON.") from None
    if not isinstance(metadata, dict):
        raise oauth_error(400, "invalid_client_metadata", "The registration request is a JSON object.")
    redirect_uris = checked_redirect_uris(metadata.get("redirect_uris"), "invalid_redirect_uri")
    if sum(len(uri) for uri in redirect_uris) > MAX_REDIRECT_URIS_CHARS:
        raise oauth_error(
            400, "invalid_redirect_uri", f"The redirect URIs are at most {MAX_REDIRECT_URIS_CHARS} characters in all."
        )
    name = checked_name(metadata.get("client_name"), "invalid_client_metadata")
    method = metadata.get("token_endpoint_auth_method", "none")
    if method not in AUTH_METHODS:
        raise oauth_error(
            400,
            "invalid_client_metadata",
            f"token_endpoint_auth_method {shown(method)} is not supported; use one of {', '.join(AUTH_METHODS)}.",
        )
    grant_types = metadata.get("grant_types", list(GRANT_TYPES))
    if (
        not isinstance(grant_types, list)
        or not grant_types
        or not all(isinstance(item, str) and item in GRANT_TYPES for item in grant_types)
    ):
        raise oauth_error(
            400, "invalid_client_metadata", f"grant_types are among {', '.join(GRANT_TYPES)} (authorization_code)."
        )
    if "authorization_code" not in grant_types:
        raise oauth_error(400, "invalid_client_metadata", "grant_types must include authorization_code.")
    response_types = metadata.get("response_types", ["code"])
    if response_types != ["code"]:
        raise oauth_error(400, "invalid_client_metadata", 'response_types are ["code"]: the only flow served.')
    issued = int(time.time())
    payload: dict[str, Any] = {"u": list(redirect_uris), "a": method, "g": list(dict.fromkeys(grant_types))}
    if name is not None:
        payload["n"] = name
    client_id = signer.seal(CLIENT, payload)
    answer: dict[str, Any] = {
        "client_id": client_id,
        "client_id_issued_at": issued,
        "redirect_uris": list(redirect_uris),
        "token_endpoint_auth_method": method,
        "grant_types": payload["g"],
        "response_types": ["code"],
    }
    if name is not None:
        answer["client_name"] = name
    if method != "none":
        answer |= {"client_secret": client_secret(signer, client_id), "client_secret_expires_at": 0}
    return answer


def registered_client(client_id: str, signer: Signer) -> Client | None:
    """The client a registered (signed) client id names, if it is one of this endpoint's."""
    payload = signer.open(CLIENT, client_id)
    if payload is None:
        return None
    uris = payload.get("u")
    if not isinstance(uris, list) or not uris or not all(isinstance(uri, str) for uri in uris):
        return None  # pragma: no cover - signed by this server
    name = payload.get("n") if isinstance(payload.get("n"), str) else None
    method = payload.get("a") if payload.get("a") in AUTH_METHODS else "none"
    return Client(client_id, tuple(uris), name, str(method))


def client_secret(signer: Signer, client_id: str) -> str:
    return signer.mac(CLIENT_SECRET, client_id)


def checked_redirect_uris(value: Any, error: str) -> tuple[str, ...]:
    """The redirect URIs of a registration or a metadata document, each checked (``redirect_uri_problem``)."""
    if not isinstance(value, list) or not value:
        raise oauth_error(400, error, "redirect_uris is a list of at least one URI.")
    if len(value) > MAX_REDIRECT_URIS:
        raise oauth_error(400, error, f"At most {MAX_REDIRECT_URIS} redirect URIs.")
    for uri in value:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise oauth_error(400, error, f"The redirect URI {shown(uri)} {problem}.")
    return tuple(dict.fromkeys(value))


def redirect_uri_problem(uri: Any) -> str | None:
    """Why ``uri`` cannot be a redirect URI here, or ``None``: https, or http on a loopback address (RFC 8252
    §7.3), with no fragment and no user name, at most ``MAX_REDIRECT_URI_CHARS`` plain characters."""
    if not isinstance(uri, str):
        return "is not a string"
    if len(uri) > MAX_REDIRECT_URI_CHARS:
        return f"is longer than {MAX_REDIRECT_URI_CHARS} characters"
    if not uri.isascii() or not uri.isprintable() or " " in uri:
        return "holds characters a URI cannot (spaces, controls, non-ASCII): percent-encode them"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return "cannot be read as a URI"
    if "#" in uri:
        return "has a fragment, which a redirect URI may not"
    if parts.username is not None or parts.password is not None:
        return "names a user, which a redirect URI may not"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return None
    return "is neither https nor http on a loopback address (127.0.0.1, [::1], localhost)"


def checked_name(value: Any, error: str) -> str | None:
    """A client's name, as a person will read it on the authorization page: text, without control characters."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise oauth_error(400, error, "client_name is a string.")
    cleaned = " ".join("".join(char for char in value if unicodedata.category(char)[0] != "C").split())
    if len(cleaned) > MAX_NAME_CHARS:
        raise oauth_error(400, error, f"client_name is at most {MAX_NAME_CHARS} characters.")
    return cleaned or None


DocumentClients = Callable[[str], Client]
"""Finds the client a metadata document's URL names (``relay.oauth.documents``); raises a ``RelayError``."""


def find_client(client_id: Any, signer: Signer, documents: DocumentClients) -> Client:
    """The client a request names, or ``invalid_client`` (a 401 at the token endpoint, a page at authorization)."""
    if not isinstance(client_id, str) or not client_id:
        raise oauth_error(400, "invalid_request", "The request names no client_id.")
    if client_id.startswith("https://"):
        return documents(client_id)
    client = registered_client(client_id, signer)
    if client is None:
        raise unknown_client()
    return client


def unknown_client() -> RelayError:
    return oauth_error(
        401,
        "invalid_client",
        "This client_id is unknown here: register at this endpoint's registration endpoint (a client id of "
        "another endpoint, or of this one at another address, is not valid here), or use the https URL of "
        "a client metadata document.",
    )
