"""The discovery documents: the MCP server as a protected resource (RFC 9728), and its authorization server
(RFC 8414), both under the endpoint's URL.

``<endpoint>/.well-known/oauth-protected-resource/mcp`` names the resource (``<endpoint>/mcp``) and its
authorization server, whose issuer is ``<endpoint>``. The 401 of ``/mcp`` points there (``WWW-Authenticate:
Bearer resource_metadata="…"``), as every MCP revision with OAuth discovery lets a server do. The authorization
server's metadata is served at ``<endpoint>/.well-known/oauth-authorization-server`` and
``<endpoint>/.well-known/openid-configuration``: the issuer with the well-known suffix appended. RFC 8414's own form
inserts the suffix at the site's root (``https://<dify>/.well-known/oauth-authorization-server/e/<hook id>``),
where a plugin cannot answer; OpenID Connect Discovery's form appends it, and MCP clients of 2025-11-25 and later
try that one third (the README's "Add it to Claude or ChatGPT" says who reaches which).
"""

from typing import Any

from relay.oauth.clients import AUTH_METHODS, GRANT_TYPES
from relay.oauth.site import SCOPE, Site


def resource_metadata(site: Site) -> dict[str, Any]:
    return {
        "resource": site.resource,
        "authorization_servers": [site.issuer],
        "scopes_supported": [SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "App Relay MCP server",
    }


def server_metadata(site: Site) -> dict[str, Any]:
    return {
        "issuer": site.issuer,
        "authorization_endpoint": site.authorization_endpoint,
        "token_endpoint": site.token_endpoint,
        "registration_endpoint": site.registration_endpoint,
        "scopes_supported": [SCOPE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
    }
