"""``/oauth/register``: Dynamic Client Registration (RFC 7591; ``relay.oauth``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.oauth


class OAuthRegisterEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.oauth.serve_register(self.session, r, values, settings)
