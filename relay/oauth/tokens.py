"""The token endpoint (RFC 6749 §3.2, with PKCE and resource indicators), and access tokens at ``/mcp``.

* ``authorization_code``: the code (single-use, ``CODE_SECONDS``), the client it was issued to (authenticated as
  it registered), its redirect URI, the PKCE verifier (S256 only), the resource (``<endpoint>/mcp``, RFC 8707).
  A code presented twice revokes the tokens issued for it.
* ``refresh_token``: rotating; each refresh token is used once. One presented again revokes its family: every
  refresh and access token issued along the chain (RFC 9700 §4.14.2).

Access tokens last ``ACCESS_SECONDS``, refresh tokens ``REFRESH_SECONDS`` each. Both are signed for the endpoint,
its issuer and the resource, and name the api key that approved them: remove the key from the settings and every
code and token it approved stops working. Errors are RFC 6749 §5.2 JSON; every answer says ``no-store``.
"""

import base64
import hashlib
import hmac
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

from relay.core.access import Caller
from relay.core.errors import RelayError, unauthorized
from relay.core.http import body_of
from relay.core.shell import Exchange
from relay.oauth.clients import Client, client_secret, find_client, unknown_client
from relay.oauth.errors import oauth_error
from relay.oauth.grants import CODE_SECONDS, Busy, Family, StorageUnavailable, is_family_id
from relay.oauth.server import AuthorizationServer, server_of
from relay.oauth.signing import ACCESS, CODE, REFRESH
from relay.oauth.site import SCOPE

ACCESS_SECONDS = 3600
REFRESH_SECONDS = 30 * 24 * 3600
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
MAX_FIELDS = 16
logger = logging.getLogger(__name__)

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_BASIC = {"WWW-Authenticate": 'Basic realm="oauth"'}
"""Every ``invalid_client`` 401 names the scheme a client may authenticate with (RFC 6749 §5.2, RFC 9110)."""

__all__ = ["ACCESS_SECONDS", "CODE_SECONDS", "REFRESH_SECONDS", "BearerAccess", "token_response"]


def token_response(exchange: Exchange) -> dict[str, Any]:
    """The tokens a token request earns, or the ``RelayError`` (OAuth's error JSON) saying why not."""
    server = server_of(exchange)
    request = exchange.request
    body = body_of(request)
    if len(body) > MAX_TOKEN_REQUEST_BYTES:
        raise oauth_error(413, "invalid_request", f"A token request is at most {MAX_TOKEN_REQUEST_BYTES} bytes.")
    if request.mimetype != "application/x-www-form-urlencoded":
        raise oauth_error(400, "invalid_request", "Send the token request as application/x-www-form-urlencoded.")
    params = form_params(body)
    grant = params.get("grant_type")
    if grant is None:
        raise oauth_error(400, "invalid_request", "The request names no grant_type.")
    if grant not in ("authorization_code", "refresh_token"):
        raise oauth_error(
            400, "unsupported_grant_type", "The grant types served are authorization_code and refresh_token."
        )
    client = _authenticated(server, exchange, params)
    if "resource" in params and not server.site.is_resource(params["resource"]):
        raise oauth_error(
            400, "invalid_target", f"The resource served here is {server.site.resource}, the endpoint's MCP server."
        )
    if grant == "authorization_code":
        return _exchange_code(server, client, params)
    return _refresh(server, client, params)


def form_params(body: bytes) -> dict[str, str]:
    """A form body's parameters; a parameter sent twice is refused (RFC 6749 §3.2)."""
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise oauth_error(400, "invalid_request", "The request is not valid UTF-8.") from None
    except ValueError:
        raise oauth_error(400, "invalid_request", f"The request has more than {MAX_FIELDS} parameters.") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise oauth_error(400, "invalid_request", f"The parameter {name[:40]!r} is sent more than once.")
        params[name] = value
    return params


def _authenticated(server: AuthorizationServer, exchange: Exchange, params: dict[str, str]) -> Client:
    """The client, authenticated as it registered: a secret (HTTP Basic or the body) when it has one, else only
    its id (a public client, whose proof is the PKCE verifier)."""
    basic = _basic(exchange.request.headers.get("Authorization", ""))
    client_id, secret = params.get("client_id"), params.get("client_secret")
    if basic is not None:
        if secret is not None:
            raise oauth_error(400, "invalid_request", "Authenticate the client one way: HTTP Basic or the body.")
        if client_id is not None and client_id != basic[0]:
            raise oauth_error(401, "invalid_client", "The client_id differs from the one authenticated.", _BASIC)
        client_id, secret = basic
    try:
        client = find_client(client_id, server.signer, _document_reference)
    except RelayError as refused:
        raise oauth_error(
            refused.status, refused.code, refused.message, _BASIC if refused.status == 401 else {}
        ) from None
    if client.auth_method != "none":
        expected = client_secret(server.signer, client.client_id)
        if secret is None or not hmac.compare_digest(secret.encode(), expected.encode()):
            raise oauth_error(
                401, "invalid_client", "The client's secret is missing or wrong for this client_id.", _BASIC
            )
    return client


def _document_reference(url: str) -> Client:
    """A client named by its metadata document, at the token endpoint: its id is all that is needed (codes and
    tokens record which client they were issued to), so the document is not fetched again."""
    if len(url) > 512:
        raise unknown_client()
    return Client(url, (), None, "none", document=True)


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise oauth_error(401, "invalid_client", "The Basic credentials cannot be read.", _BASIC) from None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise oauth_error(401, "invalid_client", "The Basic credentials hold no secret.", _BASIC)
    return unquote(client_id), unquote(secret)


def _exchange_code(server: AuthorizationServer, client: Client, params: dict[str, str]) -> dict[str, Any]:
    code = server.signer.open(CODE, params.get("code"))
    if code is None or not is_family_id(code.get("j")):
        raise _bad_grant(
            f"The code is not valid: codes last {CODE_SECONDS} seconds, work once, for the client and the endpoint "
            "they were issued to."
        )
    if code.get("c") != client.digest:
        raise _bad_grant("The code was issued to another client.")
    if code.get("r") != server.site.resource:  # pragma: no cover - signed for this issuer, whose resource it names
        raise oauth_error(400, "invalid_target", "The code was issued for another resource.")
    given = params.get("redirect_uri")
    if (code.get("x") or given is not None) and given != code.get("u"):
        raise _bad_grant("The redirect_uri differs from the authorization request's.")
    verifier = params.get("code_verifier")
    if verifier is None:
        raise oauth_error(400, "invalid_request", "The request has no code_verifier (PKCE is required).")
    if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(_s256(verifier), str(code.get("p"))):
        raise _bad_grant("The code_verifier does not match the authorization request's code_challenge.")
    key = server.key_of(code.get("k"))
    if key is None:
        raise _bad_grant("The api key that approved this code is no longer in the endpoint's settings.")
    used = server.grants.find(code["j"])
    if used is not None:
        server.grants.revoke(used)
        logger.warning("an OAuth code was presented twice: the grant it gave is revoked")
        raise _bad_grant("The code was already used: the tokens issued for it are revoked. Authorize again.")
    try:
        family = server.grants.start(code["j"])
    except Busy:
        raise oauth_error(
            503, "temporarily_unavailable", "Too many authorizations at once here; try again in a minute."
        ) from None
    except StorageUnavailable:
        raise _storage_failed() from None
    return _tokens(server, client, str(code["k"]), family)


def _refresh(server: AuthorizationServer, client: Client, params: dict[str, str]) -> dict[str, Any]:
    token = server.signer.open(REFRESH, params.get("refresh_token"))
    if token is None or not isinstance(token.get("g"), int):
        raise _bad_grant(
            "The refresh token is not valid: expired, of another client or endpoint (or of this endpoint at "
            "another address), or mistyped."
        )
    if token.get("c") != client.digest:
        raise _bad_grant("The refresh token was issued to another client.")
    if server.key_of(token.get("k")) is None:
        raise _bad_grant("The api key that approved this grant is no longer in the endpoint's settings.")
    family = server.grants.find(str(token.get("f")))
    if family is None or family.revoked:
        raise _bad_grant("This grant was revoked or has ended; authorize again.")
    if token["g"] != family.generation:
        server.grants.revoke(family)
        logger.warning("an OAuth refresh token was presented twice (a copy leaked?): its grant is revoked")
        raise _bad_grant(
            "This refresh token was already used: a refresh token works once. Every token of this grant is now "
            "revoked; authorize again."
        )
    try:
        family = server.grants.advance(family)
    except StorageUnavailable:
        raise _storage_failed() from None
    return _tokens(server, client, str(token["k"]), family)


def _tokens(server: AuthorizationServer, client: Client, key_id: str, family: Family) -> dict[str, Any]:
    now = int(time.time())
    granted = {"k": key_id, "f": family.ident, "c": client.digest, "r": server.site.resource}
    access = server.signer.seal(ACCESS, granted | {"e": now + ACCESS_SECONDS})
    refresh = server.signer.seal(REFRESH, granted | {"g": family.generation, "e": now + REFRESH_SECONDS})
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_SECONDS,
        "refresh_token": refresh,
        "scope": SCOPE,
    }


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _bad_grant(description: str) -> RelayError:
    return oauth_error(400, "invalid_grant", description)


def _storage_failed() -> RelayError:
    return oauth_error(
        503, "temporarily_unavailable", "The grant could not be recorded in plugin storage; try again later."
    )


class BearerAccess:
    """Access tokens at ``/mcp`` (``relay.core.shell.BearerTokens``): a valid one is the caller of the key that
    approved it, so that its conversations and limits are that key's."""

    def caller(self, exchange: Exchange, token: str) -> Caller | None:
        if not token.startswith(ACCESS + "."):
            return None  # not one of ours: the key's own refusal stands
        try:
            server = server_of(exchange)
        except RelayError:
            return None
        granted = server.signer.open(ACCESS, token)
        if granted is None or granted.get("r") != server.site.resource:
            raise _invalid_token("expired (access tokens last an hour: refresh it), or issued for another endpoint")
        key = server.key_of(granted.get("k"))
        if key is None:
            raise _invalid_token("the api key that approved it is no longer in the endpoint's settings")
        family = server.grants.find(str(granted.get("f")))
        if family is None or family.revoked:
            raise _invalid_token("its grant was revoked or has ended")
        return Caller.of_key(key)

    def challenge(self, exchange: Exchange, token: str | None) -> str:
        """RFC 6750 §3 and RFC 9728 §5.1: where the resource's metadata is, the scope, and ``invalid_token`` when
        a token was presented."""
        parts = ['error="invalid_token"'] if token is not None else []
        try:
            site = server_of(exchange).site
        except RelayError:
            site = None
        if site is not None:
            parts.append(f'resource_metadata="{_quoted(site.resource_metadata)}"')
        parts.append(f'scope="{SCOPE}"')
        return "Bearer " + ", ".join(parts)


def _quoted(text: str) -> str:
    return text.replace("\\", "%5C").replace('"', "%22")


def _invalid_token(why: str) -> RelayError:
    return unauthorized(f"The access token is not valid here: {why}. Get a new one through OAuth.")


BEARER = BearerAccess()
