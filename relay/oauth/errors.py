"""OAuth's errors: RFC 6749 §5.2 JSON, carried as ``RelayError`` data (``code`` is OAuth's ``error``)."""

from typing import Any

from werkzeug import Response

from relay.core.errors import RelayError, endpoint_misconfigured
from relay.core.responses import json_response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Every OAuth answer: nothing in it may be kept by a cache (RFC 6749 §5.1)."""

OAUTH_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
        "invalid_redirect_uri",
        "invalid_client_metadata",
        "access_denied",
        "unsupported_response_type",
        "server_error",
        "temporarily_unavailable",
        "not_found",
    }
)


def oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> RelayError:
    return RelayError(status, error, description, dict(headers or {}))


def error_document(error: RelayError) -> dict[str, Any]:
    """``{"error", "error_description"}``; the shell's own refusals (a body too large, a method not served, a
    failure) say ``invalid_request`` or ``server_error``, with the relay's own ``code`` beside it (RFC 6749 lets a
    client ignore what it does not know): ``endpoint_misconfigured`` tells an admin there is a setting to fix."""
    if error.code in OAUTH_CODES:
        return {"error": error.code, "error_description": error.message}
    code = "server_error" if error.status >= 500 else "invalid_request"
    return {"error": code, "error_description": error.message, "code": error.code}


def error_response(error: RelayError, cors: dict[str, str]) -> Response:
    return json_response(error_document(error), error.status, cors | error.headers | NO_STORE)


def not_served() -> RelayError:
    """OAuth on an endpoint without api keys: there is nothing to authorize, and nothing changes."""
    return oauth_error(
        404,
        "not_found",
        "This endpoint has no api keys, so its MCP server needs no authorization: connect to <endpoint>/mcp as is.",
    )


def no_address() -> RelayError:
    return endpoint_misconfigured(
        "This request does not say the endpoint's public address (no Dify-Hook-Url): set the setting public_url."
    )
