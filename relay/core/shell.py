"""The one request wrapper every surface runs in: what happens before and around a surface's own work.

For every request of every surface, in this order:

1. ``OPTIONS``: answered here (204, ``Allow`` listing the surface's methods, CORS preflight headers when the
   origin is allowed); preflights need no key.
2. CORS headers for the answer, ``Vary`` as the surface's answers vary.
3. The caller's key (and nothing costly before it: a caller without it learns nothing of the endpoint), then the
   endpoint's app list, then the body limit, then the method (405 with ``Allow``).
4. The surface answers. A ``RelayError`` becomes the surface's own error shape; any other exception is logged
   with its traceback and answered with the surface's 500: no traceback ever reaches a client.

A surface supplies its methods, its answer and its error renderer; what it needs beyond that it opts into here
(a form POST's ``api_key`` field, for the browser pages; access tokens in place of the key, for the MCP server), so
no surface reaches around the rules.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from werkzeug import Request, Response

from relay.core import access
from relay.core.catalog import Catalog
from relay.core.dify import Dify, DifySession
from relay.core.errors import RelayError, internal_error, shown
from relay.core.http import check_body_size
from relay.core.responses import json_response
from relay.core.served import endpoint_base

logger = logging.getLogger(__name__)

HOOK_URL = "Dify-Hook-Url"
"""Set by Dify's nginx to the URL the client called (``$scheme://$host$request_uri``): the endpoint's public address."""
HOOK_ID = "Dify-Hook-Id"


@dataclass(frozen=True)
class Exchange:
    """One request, and what the shell knows of it when the surface is called."""

    dify: Dify
    request: Request
    values: Mapping[str, Any]
    """What the route's path holds (``app_id``...)."""
    settings: Mapping[str, Any]
    rules: access.AccessSettings
    cors: dict[str, str]
    """The headers every answer to this request carries (CORS, ``Vary``)."""
    caller: access.Caller
    catalog: Catalog | None = None
    """The endpoint's apps; ``None`` until the caller is admitted (an error page rendered before has none)."""

    @property
    def admitted(self) -> bool:
        return self.catalog is not None

    @property
    def apps(self) -> Catalog:
        if self.catalog is None:  # pragma: no cover - the shell admits before it calls a surface's answer
            raise RuntimeError("the caller has not been admitted")
        return self.catalog


class Surface(Protocol):
    """A protocol spoken on the endpoint: it parses its requests and renders its answers, nothing else."""

    name: str
    """For the plugin log."""
    methods: tuple[str, ...]
    """What it answers besides ``OPTIONS`` (``GET`` implies ``HEAD``)."""
    expose_headers: tuple[str, ...]
    """Response headers a page on an allowed origin may read."""
    vary: tuple[str, ...]
    """Request headers its answers depend on, besides ``Origin``."""
    form_key: bool
    """Whether a form POST may carry the api key as its field ``api_key`` (the browser pages)."""
    foreign_origins: bool
    """Whether a request from a browser origin that ``cors_allowed_origins`` does not list is served at all."""
    public: bool
    """Whether requests carry their own proof instead of an api key (a signed address: the files the plugin serves
    to Dify, which fetches them without a key); such a surface is served on any endpoint, set up or not."""

    def answer(self, exchange: Exchange) -> Response: ...
    def error(self, error: RelayError, exchange: Exchange) -> Response: ...


class BearerTokens(Protocol):
    """Access tokens a surface accepts in place of an api key, on an endpoint with api keys (``relay.oauth``)."""

    def caller(self, exchange: Exchange, token: str) -> access.Caller | None:
        """The caller a valid token speaks for (the key that approved it); ``None`` for what is no token of its
        own; a 401 ``RelayError`` saying why one of its tokens is refused (expired, revoked...)."""
        ...

    def challenge(self, exchange: Exchange, token: str | None) -> str:
        """The ``WWW-Authenticate`` value of a 401: where to get a token (``token``: the one refused, if any)."""
        ...


def serve(
    surface: Surface,
    session: DifySession,
    request: Request,
    values: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    tokens: BearerTokens | None = None,
) -> Response:
    """Answer one request through ``surface``. Never raises: every failure is a response. ``tokens``: the access
    tokens it also accepts as the caller (an endpoint without api keys has no use for them)."""
    rules = access.AccessSettings.from_settings(settings)
    allowed = _allowed(surface.methods)
    if request.method == "OPTIONS":
        return Response(status=204, headers=access.preflight_headers(request, rules, allowed))
    cors = access.cors_headers(request, rules, expose=surface.expose_headers)
    if surface.vary:
        cors = cors | {"Vary": ", ".join(filter(None, (cors.get("Vary"), *surface.vary)))}
    endpoint_url = endpoint_base(request.headers.get(HOOK_URL), request.headers.get(HOOK_ID))
    exchange = Exchange(Dify(session, endpoint_url), request, values, settings, rules, cors, access.ANONYMOUS)
    try:
        try:
            if not surface.foreign_origins:
                access.check_origin(request, rules, cors)
            if not surface.public:
                caller = _caller(surface, exchange, tokens)
                exchange = replace(exchange, caller=caller, catalog=access.admit(settings))
            check_body_size(request)
            if request.method not in surface.methods and not (request.method == "HEAD" and "GET" in surface.methods):
                raise RelayError(
                    405,
                    "method_not_allowed",
                    f"{shown(request.method)} is not served here; use {', '.join(surface.methods)}.",
                    {"Allow": allowed},
                )
            return surface.answer(exchange)
        except RelayError as error:
            return surface.error(error, exchange)
        except Exception:
            logger.exception("unexpected failure on the %s surface (%s %s)", surface.name, request.method, request.path)
            return surface.error(internal_error(), exchange)
    except Exception:  # the surface's own error renderer failed: the plainest answer, still no traceback
        logger.exception("the %s surface could not render an error", surface.name)
        return json_response(internal_error().body(), 500, cors)


def _caller(surface: Surface, exchange: Exchange, tokens: BearerTokens | None) -> access.Caller:
    """The key's caller; else, where the surface takes tokens, the caller of a valid access token. Every 401 then
    says where a token comes from (RFC 9728's ``WWW-Authenticate``), so that a client can get one."""
    try:
        return access.check_api_key(exchange.request, exchange.rules, form=surface.form_key)
    except RelayError as refused:
        if tokens is None or refused.status != 401:
            raise
        token = access.bearer_token(exchange.request)
        try:
            caller = tokens.caller(exchange, token) if token is not None else None
        except RelayError as token_refused:
            caller, refused = None, token_refused
        if caller is not None:
            return caller
        challenge = {"WWW-Authenticate": tokens.challenge(exchange, token)}
        raise replace(refused, headers=refused.headers | challenge) from None


def _allowed(methods: tuple[str, ...]) -> str:
    return ", ".join((*methods, "OPTIONS"))
