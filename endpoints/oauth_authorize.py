"""``/oauth/authorize``: the page where a person approves an MCP client with one of the endpoint's api keys
(``relay.oauth``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.oauth


class OAuthAuthorizeEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.oauth.serve_authorize(self.session, r, values, settings)
