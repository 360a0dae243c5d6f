"""Who may call: the endpoint's api key, its app allow-list and its CORS origins."""

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from werkzeug import Request

from relay.core.catalog import Catalog, catalog_of
from relay.core.errors import RelayError, endpoint_not_configured, shown, unauthorized
from relay.core.http import form_key, query_fields

_SEPARATORS = re.compile(r"[\s,]+")
PREFLIGHT_MAX_AGE = 600
ALLOWED_HEADERS = "Authorization, Content-Type, X-API-Key"
"""Allowed to a preflight that names no headers; one that names some gets them allowed (see ``preflight_headers``)."""
_HEADER_LIST = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*")
_MAX_HEADER_LIST = 1024


@dataclass(frozen=True)
class AccessSettings:
    """Who may call: the endpoint group's settings, as Dify hands them over (secrets already decrypted)."""

    api_keys: tuple[str, ...] = ()
    """Every key accepted: several let an admin rotate (add the new one, move clients, drop the old one)."""
    cors_origins: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "AccessSettings":
        return cls(
            api_keys=tuple(_split(settings.get("api_key"))),
            cors_origins=frozenset(item.rstrip("/") for item in _split(settings.get("cors_allowed_origins"))),
        )


@dataclass(frozen=True)
class Caller:
    """Who is asking, as far as the endpoint can tell: the api key it presented, as a fingerprint.

    What one caller starts (a conversation continued by its history) is bound to this, so that no other caller
    reaches it. The fingerprint is a digest: the key itself is never kept or compared after the check.
    """

    fingerprint: str | None = None
    """``None`` on an endpoint without api keys: there, every caller is anonymous and no one is told apart."""

    @property
    def known(self) -> bool:
        return self.fingerprint is not None

    @classmethod
    def of_key(cls, key: str) -> "Caller":
        digest = hashlib.sha256(b"app-relay caller\0" + key.encode("utf-8", "surrogatepass")).hexdigest()
        return cls(digest[:32])


ANONYMOUS = Caller()


def _split(value: Any) -> list[str]:
    return [item for item in _SEPARATORS.split(str(value or "")) if item]


def header_key(request: Request) -> str | None:
    """The key a request carries in its headers: a Bearer token or ``X-API-Key``."""
    return bearer_token(request) or request.headers.get("X-API-Key", "").strip() or None


def bearer_token(request: Request) -> str | None:
    """What ``Authorization: Bearer <token>`` carries: an api key, or an access token where a surface takes them."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def presented_key(request: Request, *, form: bool = False) -> str | None:
    """The key a request carries: in its headers, or else (``form``: where a surface takes it so) as the ``api_key``
    field of a form POST.

    The form is looked at only when no header carries a key, and then without being parsed: this runs before the
    caller is known, so it must cost little whatever the body holds.
    """
    key = header_key(request)
    return form_key(request) if key is None and form else key


def admit(settings: Mapping[str, Any]) -> Catalog:
    """The endpoint's apps, once the caller is known: an endpoint not (or wrongly) set up says so to every
    request that carries the key, and to no other."""
    catalog = catalog_of(settings)
    if not catalog.configured:
        raise endpoint_not_configured()
    return catalog


def check_api_key(request: Request, access: AccessSettings, *, form: bool = False) -> Caller:
    """The caller, or 401 unless the request carries one of the configured keys (``form``: see ``presented_key``)."""
    if not access.api_keys:
        return ANONYMOUS
    key = presented_key(request, form=form)
    if key is not None and is_valid_key(key, access.api_keys):
        return Caller.of_key(key)
    if "api_key" in query_fields(request):
        raise unauthorized(
            "The api key is never accepted in the URL; send it as Authorization: Bearer <key> or X-API-Key."
        )
    if key is None:
        raise unauthorized("This endpoint needs an api key: send Authorization: Bearer <key> or X-API-Key: <key>.")
    raise replace(unauthorized("The api key is not valid for this endpoint."), reason="wrong_key")


def check_origin(request: Request, access: AccessSettings, cors: Mapping[str, str]) -> None:
    """403 for a browser page on an origin ``cors_allowed_origins`` does not list, for surfaces that a page on any
    site could otherwise drive through a visitor's browser (a local MCP server, for one: DNS rebinding)."""
    origin = request.headers.get("Origin")
    if origin and "Access-Control-Allow-Origin" not in cors:
        raise RelayError(
            403, "origin_not_allowed", f"Origin {shown(origin)} may not use this server (see cors_allowed_origins)."
        )


def is_valid_key(key: str, keys: tuple[str, ...]) -> bool:
    """Whether ``key`` is one of ``keys``, compared in constant time with every one of them (no early exit:
    the time taken says nothing about which key, or how much of one, matched)."""
    presented = key.encode()
    matches = [hmac.compare_digest(presented, candidate.encode()) for candidate in keys]
    return any(matches)


def cors_headers(request: Request, access: AccessSettings, expose: tuple[str, ...] = ()) -> dict[str, str]:
    """CORS headers for a request from an allowed origin; only ``Vary: Origin`` for any other request.

    Whenever origins are configured the answer depends on ``Origin``, so caches must be told even when this
    request's origin is refused or absent. ``expose``: response headers a page may read (a surface's own).
    """
    if not access.cors_origins:
        return {}
    origin = request.headers.get("Origin")
    if not origin or ("*" not in access.cors_origins and origin.rstrip("/") not in access.cors_origins):
        return {"Vary": "Origin"}
    exposed = {"Access-Control-Expose-Headers": ", ".join(expose)} if expose else {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} | exposed


def is_preflight(request: Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight_headers(request: Request, access: AccessSettings, methods: str) -> dict[str, str]:
    """Headers of the 204 answering an OPTIONS request; preflights need no api key.

    The headers a preflight asks for are allowed as asked: the origin is already trusted, and clients send
    headers of their own (the OpenAI SDKs send ``X-Stainless-*`` on every request, MCP clients
    ``MCP-Protocol-Version``), which a fixed list would refuse.
    """
    cors = cors_headers(request, access)
    headers = {"Allow": methods} | cors
    if "Access-Control-Allow-Origin" in cors and is_preflight(request):
        asked = request.headers.get("Access-Control-Request-Headers", "").strip()
        wanted = asked if len(asked) <= _MAX_HEADER_LIST and _HEADER_LIST.fullmatch(asked) else ALLOWED_HEADERS
        headers |= {
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": wanted,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
        }
        headers.pop("Access-Control-Expose-Headers", None)
    return headers
