"""OAuth 2.1 for the MCP server: its discovery documents and a small authorization server, under the endpoint.

Claude and ChatGPT connect from their own clouds to a server with OAuth or with none; an endpoint whose MCP
server wants an api key in a header cannot be added there. On an endpoint with api keys, ``/mcp`` is therefore
also an OAuth protected resource (its 401 says where to begin), and the endpoint its own authorization server:

* ``/.well-known/oauth-protected-resource/mcp``, ``/.well-known/oauth-authorization-server`` and
  ``/.well-known/openid-configuration``: discovery (``relay.oauth.metadata``);
* ``/oauth/register``: Dynamic Client Registration, stateless (``relay.oauth.clients``); clients may also be named
  by the https URL of their metadata document (``relay.oauth.documents``);
* ``/oauth/authorize``: the page where a person approves a client with one of the endpoint's api keys
  (``relay.oauth.authorize``);
* ``/oauth/token``: codes and refresh tokens for access tokens (``relay.oauth.tokens``).

Every route is a *public* surface of the shell: its requests carry no api key (the authorization page checks the
key typed into it). An access token is the caller of the key that approved it, at ``/mcp`` only
(``relay.oauth.tokens.BEARER``, handed to the shell by ``relay.mcp_server``); the keys keep working as before. On
an endpoint without api keys every route answers 404 and nothing changes.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug import Request, Response

from relay.core import shell
from relay.core.dify import DifySession
from relay.core.errors import RelayError
from relay.core.http import body_of
from relay.core.responses import json_response
from relay.core.shell import Exchange
from relay.oauth import authorize as authorization
from relay.oauth.clients import register
from relay.oauth.errors import NO_STORE, error_response
from relay.oauth.metadata import resource_metadata, server_metadata
from relay.oauth.server import server_of
from relay.oauth.tokens import BEARER, token_response

__all__ = [
    "BEARER",
    "serve_authorize",
    "serve_register",
    "serve_resource_metadata",
    "serve_server_metadata",
    "serve_token",
]


@dataclass(frozen=True)
class OAuthSurface:
    """One OAuth route: public (no api key), served to any origin (CORS as the settings say), errors as OAuth's
    JSON, or as a page for the authorization page."""

    name: str
    methods: tuple[str, ...]
    respond: Callable[[Exchange], Response]
    page: bool = False
    expose_headers: tuple[str, ...] = ()
    vary: tuple[str, ...] = ()
    form_key: bool = False
    foreign_origins: bool = True
    public: bool = True

    def answer(self, exchange: Exchange) -> Response:
        return self.respond(exchange)

    def error(self, error: RelayError, exchange: Exchange) -> Response:
        if self.page:
            return authorization.error_page(exchange, error)
        return error_response(error, exchange.cors)


def _document(make: Callable[..., dict[str, Any]]) -> Callable[[Exchange], Response]:
    def respond(exchange: Exchange) -> Response:
        return json_response(make(server_of(exchange).site), 200, exchange.cors | NO_STORE)

    return respond


def _registration(exchange: Exchange) -> Response:
    server = server_of(exchange)
    return json_response(register(body_of(exchange.request), server.signer), 201, exchange.cors | NO_STORE)


def _token(exchange: Exchange) -> Response:
    return json_response(token_response(exchange), 200, exchange.cors | NO_STORE)


RESOURCE_METADATA = OAuthSurface("oauth-resource-metadata", ("GET",), _document(resource_metadata))
SERVER_METADATA = OAuthSurface("oauth-server-metadata", ("GET",), _document(server_metadata))
REGISTER = OAuthSurface("oauth-register", ("POST",), _registration)
TOKEN = OAuthSurface("oauth-token", ("POST",), _token)
AUTHORIZE = OAuthSurface(
    "oauth-authorize", ("GET", "POST"), authorization.authorize, page=True, vary=("Accept-Language",)
)


def _serve(surface: OAuthSurface) -> Callable[[DifySession, Request, Mapping[str, Any], Mapping[str, Any]], Response]:
    def serve(
        session: DifySession, request: Request, values: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> Response:
        """Answer one request to this OAuth route. Never raises."""
        return shell.serve(surface, session, request, values, settings)

    return serve


serve_resource_metadata = _serve(RESOURCE_METADATA)
serve_server_metadata = _serve(SERVER_METADATA)
serve_register = _serve(REGISTER)
serve_token = _serve(TOKEN)
serve_authorize = _serve(AUTHORIZE)
