"""``/.well-known/oauth-authorization-server`` and ``/.well-known/openid-configuration``: the endpoint's
authorization server (RFC 8414; ``relay.oauth``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.oauth


class OAuthServerMetadataEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.oauth.serve_server_metadata(self.session, r, values, settings)
