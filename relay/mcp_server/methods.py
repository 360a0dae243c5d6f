"""What each method answers, in either era; ``tools/call``, which runs an app, is ``relay.mcp_server.calls``.

The handshake revisions open with ``initialize`` and know ``ping``; 2026-07-28 removed both (and the logging and
subscription methods) and opens with ``server/discover`` instead. Both eras list the tools, and answer the
resource and prompt lists that clients probe with empty lists rather than "method not found".
"""

import logging
from typing import Any

from relay.core.catalog import App, Catalog
from relay.core.dify import Dify
from relay.core.errors import RelayError, shown
from relay.core.parameters import AppParameters
from relay.mcp_server import tools
from relay.mcp_server.identity import SERVER_INFO
from relay.mcp_server.modern import Era
from relay.mcp_server.protocol import HANDSHAKE_VERSIONS, METHOD_NOT_FOUND, MODERN_VERSIONS, RpcError

logger = logging.getLogger(__name__)

CAPABILITIES: dict[str, Any] = {"tools": {"listChanged": False}, "resources": {}, "prompts": {}}
INSTRUCTIONS = "Each tool runs one Dify app of this workspace and returns its answer."
EMPTY_LISTS = {
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
    "prompts/list": "prompts",
}


def result_of(dify: Dify, catalog: Catalog, era: Era, method: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The result of any method but ``tools/call``; ``RpcError`` for a method this era does not have."""
    if era is Era.HANDSHAKE and method == "initialize":
        return _initialized(params)
    if era is Era.HANDSHAKE and method == "ping":
        return {}
    if era is Era.MODERN and method == "server/discover":
        return {"supportedVersions": list(MODERN_VERSIONS), "capabilities": CAPABILITIES, "instructions": INSTRUCTIONS}
    if method == "tools/list":
        return {"tools": [tools.describe(app, parameters(dify, app)) for app in catalog.named()]}
    if method in EMPTY_LISTS:
        return {EMPTY_LISTS[method]: []}
    raise RpcError(METHOD_NOT_FOUND, f"Method {shown(method)} is not offered by this server.")


def parameters(dify: Dify, app: App) -> AppParameters:
    """The app's parameters (its form...), or none when Dify cannot give them: its tool then takes no inputs
    but still runs, and Dify says what is missing."""
    try:
        return dify.parameters(app.app_id)
    except RelayError as error:
        logger.warning("the form of app %s could not be read for its tool schema: %s", app.label, error.message)
        return AppParameters()


def _initialized(params: dict[str, Any]) -> dict[str, Any]:
    asked = params.get("protocolVersion")
    return {
        # The client's version when this server speaks it, else the newest it speaks: the client decides then.
        "protocolVersion": asked if asked in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[0],
        "capabilities": CAPABILITIES,
        "serverInfo": SERVER_INFO,
        "instructions": INSTRUCTIONS,
    }
