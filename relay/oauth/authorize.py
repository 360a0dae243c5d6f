"""The authorization endpoint: the code flow with PKCE (S256), as a page a person answers with an api key.

``GET /oauth/authorize`` checks the request: first the client and its redirect URI — until both are known to be
right, a problem is an error page and never a redirect (RFC 6749 §4.1.2.1: the URI could be anyone's); then the
rest (``response_type=code``, ``code_challenge`` with ``S256``, the ``resource`` if any, ``state`` of a sane size),
whose problems go back to the client as a redirect with ``error``, ``error_description``, ``state`` and ``iss``
(RFC 9207). A good request gets the page: the client's name, the host it returns to, the endpoint, and a field for
one of the endpoint's api keys.

The key is POSTed with a signed, short-lived copy of the request (``REQUEST_SECONDS``). A wrong key is said on the
page, and nothing else happens. The right one shows which apps the client will reach, with Allow and Deny; that
form carries a signed approval naming the key (not the key itself). Allow redirects with a code (single-use,
``CODE_SECONDS``), ``state`` and ``iss``; Deny with ``access_denied``. A page showing the apps only once the key is
typed keeps the endpoint's rule: whoever has no key learns nothing of it.

Every page: no script, the pages' stylesheet by its hash, ``X-Frame-Options: DENY`` and ``frame-ancestors
'none'`` (no other site may frame it, to trick a click), ``Cache-Control: no-store``, and ``form-action`` allowing
this endpoint and the client's redirect origin (a browser checks a form's redirect against it).
"""

import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from werkzeug import Response

from relay.core.access import is_valid_key
from relay.core.catalog import catalog_of
from relay.core.errors import RelayError, shown
from relay.core.http import body_of
from relay.core.responses import generator, whole_response
from relay.core.shell import Exchange
from relay.native.pages import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, render_page
from relay.native.pages.i18n import language_of
from relay.oauth.clients import Client, client_digest, find_client
from relay.oauth.documents import DOCUMENTS, MetadataDocuments
from relay.oauth.errors import NO_STORE
from relay.oauth.grants import CODE_SECONDS, new_family_id
from relay.oauth.server import AuthorizationServer, server_of
from relay.oauth.signing import APPROVAL, CODE, REQUEST

REQUEST_SECONDS = 600
"""How long the page's form works: the time to find the key and type it."""
MAX_QUERY_BYTES = 16 * 1024
MAX_FORM_BYTES = 32 * 1024
MAX_FIELDS = 32
MAX_STATE_CHARS = 1024
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
HTML = "text/html; charset=utf-8"

documents: MetadataDocuments = DOCUMENTS
"""Where clients named by a metadata document are looked up (tests put a fetcher without network here)."""


class PageError(Exception):
    """A request that must not be redirected: shown on the page, with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RedirectError(Exception):
    """A request whose client and redirect URI are right: the error goes back to the client."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def authorize(exchange: Exchange) -> Response:
    server = server_of(exchange)
    try:
        if exchange.request.method == "POST":
            form = _params(body_of(exchange.request), MAX_FORM_BYTES, "form")
            if "approval" in form:
                return _decide(server, exchange, form)
            return _check_key(server, exchange, form)
        return _start(server, exchange, _params(exchange.request.query_string, MAX_QUERY_BYTES, "query"))
    except PageError as problem:
        code = "invalid_request" if problem.status < 500 else "server_error"
        return _page(exchange, problem.status, None, step="error", message=problem.message, code=code)


def error_page(exchange: Exchange, error: RelayError) -> Response:
    """A refusal before the page (the shell's, or a setting to fix), as a page."""
    return _page(
        exchange, error.status, None, step="error", message=error.message, code=error.code, extra=error.headers
    )


def _start(server: AuthorizationServer, exchange: Exchange, params: dict[str, str | None]) -> Response:
    client = _client(server, params.get("client_id"))
    if "redirect_uri" in params and params["redirect_uri"] is None:
        raise PageError(400, "The request names redirect_uri more than once.")
    asked = params.get("redirect_uri")
    redirect_uri = client.redirect_uri(asked)
    if redirect_uri is None:
        wanted = f"redirect_uri {shown(asked)} is not" if asked is not None else "The request names no redirect_uri:"
        raise PageError(
            400,
            f"{wanted} one this client registered (they are compared exactly). Registered: "
            f"{', '.join(client.redirect_uris)[:600]}.",
        )
    state = params.get("state")
    try:
        challenge = _checked(server, params)
    except RedirectError as refused:
        kept = state if state is not None and len(state) <= MAX_STATE_CHARS else None
        return _redirect(
            redirect_uri, server, 302, error=refused.error, error_description=refused.description, state=kept
        )
    request = {
        "c": client.client_id,
        "u": redirect_uri,
        "x": asked is not None,
        "s": state,
        "p": challenge,
        "e": int(time.time()) + REQUEST_SECONDS,
    }
    return _key_page(server, exchange, client, server.signer.seal(REQUEST, request), redirect_uri)


def _checked(server: AuthorizationServer, params: dict[str, str | None]) -> str:
    """The code challenge of a request whose other parameters are right; else the error to redirect with."""
    repeated = sorted(name for name, value in params.items() if value is None)
    if repeated:
        raise RedirectError("invalid_request", f"Parameters sent more than once: {', '.join(repeated)[:200]}.")
    state = params.get("state")
    if state is not None and len(state) > MAX_STATE_CHARS:
        raise RedirectError("invalid_request", f"state is at most {MAX_STATE_CHARS} characters.")
    if params.get("response_type") != "code":
        raise RedirectError("unsupported_response_type", "The response_type served is code.")
    challenge = params.get("code_challenge")
    if challenge is None:
        raise RedirectError(
            "invalid_request", "PKCE is required: send code_challenge, with code_challenge_method S256."
        )
    if params.get("code_challenge_method") != "S256":
        raise RedirectError("invalid_request", "The code_challenge_method served is S256 (plain is not).")
    if not _CHALLENGE.fullmatch(challenge):
        raise RedirectError("invalid_request", "An S256 code_challenge is 43 base64url characters.")
    resource = params.get("resource")
    if resource is not None and not server.site.is_resource(resource):
        raise RedirectError(
            "invalid_target", f"The resource served here is {server.site.resource}, the endpoint's MCP server."
        )
    return challenge


def _check_key(server: AuthorizationServer, exchange: Exchange, form: dict[str, str | None]) -> Response:
    request = _opened(server, REQUEST, form.get("request"))
    client = _client(server, request.get("c"))
    key = (form.get("api_key") or "").strip()
    if not key or not is_valid_key(key, server.keys):
        return _key_page(server, exchange, client, str(form.get("request")), str(request.get("u")), wrong_key=True)
    approval = {name: request.get(name) for name in ("c", "u", "x", "s", "p")}
    approval |= {"k": server.key_id(key), "e": int(time.time()) + REQUEST_SECONDS}
    apps, problem = _apps(exchange)
    return _page(
        exchange,
        200,
        str(request.get("u")),
        step="consent",
        approval_token=server.signer.seal(APPROVAL, approval),
        apps=apps,
        problem=problem,
        **_facts(server, client, str(request.get("u"))),
    )


def _decide(server: AuthorizationServer, exchange: Exchange, form: dict[str, str | None]) -> Response:
    approval = _opened(server, APPROVAL, form.get("approval"))
    if server.key_of(approval.get("k")) is None:
        raise PageError(403, "The api key typed for this approval is no longer in the endpoint's settings.")
    redirect_uri, state = str(approval.get("u")), approval.get("s")
    decision = form.get("decision")
    if decision == "deny":
        return _redirect(
            redirect_uri, server, 303, error="access_denied", error_description="The person denied access.", state=state
        )
    if decision != "allow":
        raise PageError(400, "Choose Allow or Deny.")
    code = {
        "j": new_family_id(),
        "c": client_digest(str(approval.get("c"))),
        "u": redirect_uri,
        "x": bool(approval.get("x")),
        "p": approval.get("p"),
        "k": approval.get("k"),
        "r": server.site.resource,
        "e": int(time.time()) + CODE_SECONDS,
    }
    return _redirect(redirect_uri, server, 303, code=server.signer.seal(CODE, code), state=state)


def _client(server: AuthorizationServer, client_id: Any) -> Client:
    if client_id is None:
        raise PageError(400, "The request names no client_id (or names it more than once).")
    try:
        return find_client(client_id, server.signer, documents)
    except RelayError as refused:
        raise PageError(400, refused.message) from None


def _opened(server: AuthorizationServer, kind: str, value: Any) -> dict[str, Any]:
    opened = server.signer.open(kind, value)
    if opened is None:
        raise PageError(
            400,
            f"This page's form has expired (it works for {REQUEST_SECONDS // 60} minutes) or was altered, or it "
            "belongs to another endpoint.",
        )
    return opened


def _apps(exchange: Exchange) -> tuple[list[tuple[str, str]], str | None]:
    """The tools the client will reach (the apps ``allowed_apps`` names), or why the settings give none."""
    try:
        catalog = catalog_of(exchange.settings)
    except RelayError as misconfigured:
        return [], misconfigured.message
    return [(str(app.name), app.kind.name if app.kind else "chat") for app in catalog.named()], None


def _key_page(
    server: AuthorizationServer,
    exchange: Exchange,
    client: Client,
    request_token: str,
    redirect_uri: str,
    *,
    wrong_key: bool = False,
) -> Response:
    return _page(
        exchange,
        403 if wrong_key else 200,
        None,
        step="key",
        request_token=request_token,
        wrong_key=wrong_key,
        **_facts(server, client, redirect_uri),
    )


def _facts(server: AuthorizationServer, client: Client, redirect_uri: str) -> dict[str, Any]:
    parts = urlsplit(redirect_uri)
    return {
        "client_name": client.shown_name,
        "self_named": bool(client.name),
        "redirect_host": parts.netloc or redirect_uri,
        "endpoint": server.site.issuer,
    }


def _page(
    exchange: Exchange, status: int, redirect_uri: str | None, extra: dict[str, str] | None = None, **context: Any
) -> Response:
    page = render_page("authorize.html", language_of(exchange.request), kind="oauth", status=status, **context)
    headers = exchange.cors | (extra or {}) | SECURITY_HEADERS | NO_STORE
    headers["Content-Security-Policy"] = _policy(redirect_uri)
    return whole_response(page, status, headers, HTML)


def _policy(redirect_uri: str | None) -> str:
    """The pages' policy; where a form's answer redirects to the client, its origin is a form action too (a
    browser checks redirects after a form against ``form-action``). An IPv6 host cannot be said in a policy: the
    directive goes then (``default-src`` does not cover it)."""
    if redirect_uri is None:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(redirect_uri)
    if ":" in (parts.hostname or ""):
        return "; ".join(item for item in CONTENT_SECURITY_POLICY.split("; ") if not item.startswith("form-action"))
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


def _redirect(uri: str, server: AuthorizationServer, status: int, **params: Any) -> Response:
    query = urlencode(
        {name: value for name, value in (params | {"iss": server.site.issuer}).items() if value is not None}
    )
    separator = "?" if "?" not in uri else "" if uri.endswith(("?", "&")) else "&"
    headers = {"Location": uri + separator + query} | NO_STORE | {"Referrer-Policy": "no-referrer"}
    return Response(generator(iter(())), status=status, headers=headers)


def _params(raw: bytes, limit: int, where: str) -> dict[str, str | None]:
    """A query string's or a form's parameters; one sent twice reads ``None`` (refused where it matters)."""
    if len(raw) > limit:
        raise PageError(413, f"The request's {where} is larger than {limit // 1024} KiB.")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise PageError(400, f"The request's {where} is not valid UTF-8.") from None
    except ValueError:
        raise PageError(400, f"The request's {where} has more than {MAX_FIELDS} parameters.") from None
    params: dict[str, str | None] = {}
    for name, value in pairs:
        params[name] = None if name in params else value
    return params
