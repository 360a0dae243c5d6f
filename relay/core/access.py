"""Who may call: the endpoint's api key, its app allow-list and its CORS origins."""

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug import Request

from relay.core.catalog import Catalog, catalog_of
from relay.core.errors import endpoint_not_configured, unauthorized
from relay.core.http import form_key, query_fields

_SEPARATORS = re.compile(r"[\s,]+")
PREFLIGHT_MAX_AGE = 600
ALLOWED_METHODS = "GET, POST, OPTIONS"
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


def _split(value: Any) -> list[str]:
    return [item for item in _SEPARATORS.split(str(value or "")) if item]


def header_key(request: Request) -> str | None:
    """The key a request carries in its headers: a Bearer token or ``X-API-Key``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def presented_key(request: Request) -> str | None:
    """The key a request carries: in its headers, or else as the ``api_key`` field of a form POST.

    The form is looked at only when no header carries a key, and then without being parsed: this runs before the
    caller is known, so it must cost little whatever the body holds.
    """
    key = header_key(request)
    return form_key(request) if key is None else key


def admit(request: Request, settings: Mapping[str, Any], access: AccessSettings) -> Catalog:
    """The checks every request of every surface passes first, in this order: the caller's key, so that a caller
    without it learns nothing of the endpoint (not even a malformed setting); then the endpoint's app list, which
    must say which apps it serves."""
    check_api_key(request, access)
    catalog = catalog_of(settings)
    if not catalog.configured:
        raise endpoint_not_configured()
    return catalog


def check_api_key(request: Request, access: AccessSettings) -> None:
    """Raise 401 unless the request carries one of the configured keys."""
    if not access.api_keys:
        return
    key = presented_key(request)
    if key is not None and is_valid_key(key, access.api_keys):
        return
    if "api_key" in query_fields(request):
        raise unauthorized(
            "The api key is never accepted in the URL; send it as Authorization: Bearer <key> or X-API-Key."
        )
    if key is None:
        raise unauthorized("This endpoint needs an api key: send Authorization: Bearer <key> or X-API-Key: <key>.")
    raise unauthorized("The api key is not valid for this endpoint.")


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


def preflight_headers(request: Request, access: AccessSettings) -> dict[str, str]:
    """Headers of the 204 answering an OPTIONS request; preflights need no api key.

    The headers a preflight asks for are allowed as asked: the origin is already trusted, and clients send
    headers of their own (the OpenAI SDKs send ``X-Stainless-*`` on every request, MCP clients
    ``MCP-Protocol-Version``), which a fixed list would refuse.
    """
    cors = cors_headers(request, access)
    headers = {"Allow": ALLOWED_METHODS} | cors
    if "Access-Control-Allow-Origin" in cors and is_preflight(request):
        asked = request.headers.get("Access-Control-Request-Headers", "").strip()
        wanted = asked if len(asked) <= _MAX_HEADER_LIST and _HEADER_LIST.fullmatch(asked) else ALLOWED_HEADERS
        headers |= {
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": wanted,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
        }
        headers.pop("Access-Control-Expose-Headers", None)
    return headers
