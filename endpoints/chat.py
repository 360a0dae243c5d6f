"""``/chat/<app_id>``: chatbot, agent and chatflow apps (``session.app.chat.invoke``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay


class ChatEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.relay_request(self.session, r, values, settings, relay.CHAT)
