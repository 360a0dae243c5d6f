"""``/.well-known/oauth-protected-resource/mcp``: the MCP server as an OAuth protected resource (RFC 9728;
``relay.oauth``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.oauth


class OAuthResourceMetadataEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.oauth.serve_resource_metadata(self.session, r, values, settings)
