"""``/mcp``: the apps of the endpoint as MCP tools, for Claude, Cursor and any MCP host (``relay.mcp_server``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.mcp_server


class McpEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.mcp_server.serve(self.session, r, values, settings)
