"""Where the endpoint's OAuth lives: every URL of it derives from the endpoint's public base URL.

A plugin serves only paths under its endpoint (``https://<dify>/e/<hook_id>/…``), never the site's root, so the
authorization server's issuer is the endpoint's base URL itself and the MCP server (the protected resource) is
``<base>/mcp``. The base URL is the one clients see: the ``public_url`` setting when the admin sets it (a proxy in
front that terminates TLS makes Dify's nginx see ``http``, or another name), else what Dify's nginx writes into
``Dify-Hook-Url`` (``relay.core.served.endpoint_base``).

Everything is bound to it: tokens are signed for this issuer, and a client compares the issuer and resource it is
told with the URL it called, character for character (RFC 8414 §3.3, RFC 9728 §3.3).
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from relay.core.errors import endpoint_misconfigured, shown

PUBLIC_URL_SETTING = "public_url"
MAX_PUBLIC_URL_CHARS = 512

SCOPE = "mcp"
"""The one scope: use the endpoint's apps as MCP tools. Clients are told it (``WWW-Authenticate``, metadata)."""

RESOURCE_PATH = "/mcp"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
REGISTER_PATH = "/oauth/register"


@dataclass(frozen=True)
class Site:
    """The endpoint's OAuth URLs, from its public base URL (no trailing slash)."""

    base: str

    @property
    def issuer(self) -> str:
        return self.base

    @property
    def resource(self) -> str:
        return self.base + RESOURCE_PATH

    @property
    def resource_metadata(self) -> str:
        return self.base + RESOURCE_METADATA_PATH

    @property
    def authorization_endpoint(self) -> str:
        return self.base + AUTHORIZE_PATH

    @property
    def token_endpoint(self) -> str:
        return self.base + TOKEN_PATH

    @property
    def registration_endpoint(self) -> str:
        return self.base + REGISTER_PATH

    def is_resource(self, value: str) -> bool:
        """Whether a client's ``resource`` names this MCP server: scheme and host compared without case (RFC 8707
        canonical URIs are lowercase there, and clients SHOULD be accepted with uppercase), a trailing slash ignored."""
        return _canonical(value) == _canonical(self.resource)


def site_of(settings: Any, hook_base: str) -> Site | None:
    """The endpoint's site: from ``public_url`` when set, else from Dify's ``Dify-Hook-Url`` (``hook_base``);
    ``None`` when neither says. A ``public_url`` that is no http(s) URL is ``endpoint_misconfigured``: OAuth would
    hand clients addresses that cannot work."""
    configured = public_url(settings)
    base = configured if configured is not None else hook_base.rstrip("/")
    return Site(base) if base else None


def public_url(settings: Any) -> str | None:
    """The ``public_url`` setting, checked; ``None`` when empty."""
    value = str(settings.get(PUBLIC_URL_SETTING) or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    problem = None
    if len(value) > MAX_PUBLIC_URL_CHARS or not value.isascii() or not value.isprintable() or " " in value:
        problem = f"is not a URL of at most {MAX_PUBLIC_URL_CHARS} plain characters"
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "is not an http or https URL"
    elif parts.query or parts.fragment or parts.username is not None or "#" in value or "?" in value:
        problem = "has a query, a fragment or a user name; give the endpoint's URL alone"
    else:
        try:
            _ = parts.port
        except ValueError:
            problem = "has a port that is not a number"
    if problem is not None:
        raise endpoint_misconfigured(
            f"The setting public_url {shown(value)} {problem} (for example https://dify.example.com/e/<hook id>)."
        )
    return value.rstrip("/")


def _canonical(url: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(url.strip())
        netloc = parts.netloc.lower()
    except ValueError:
        return None
    if parts.fragment or parts.query:
        return None
    return parts.scheme.lower(), netloc, parts.path.rstrip("/")
