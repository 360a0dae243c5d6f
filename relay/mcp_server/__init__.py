"""The MCP surface: every app ``allowed_apps`` names is a tool, over MCP's Streamable HTTP transport."""

from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from relay.core import shell
from relay.core.dify import DifySession
from relay.mcp_server.handler import MCP
from relay.oauth.tokens import BEARER


def serve(session: DifySession, request: Request, values: Mapping[str, Any], settings: Mapping[str, Any]) -> Response:
    """Answer one request to ``/mcp``. Never raises. On an endpoint with api keys an OAuth access token is a
    caller too (``relay.oauth``), and a 401 says where to get one."""
    return shell.serve(MCP, session, request, values, settings, tokens=BEARER)


__all__ = ["serve"]
