"""``/oauth/token``: codes and refresh tokens for access tokens to ``/mcp`` (``relay.oauth``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.oauth


class OAuthTokenEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.oauth.serve_token(self.session, r, values, settings)
