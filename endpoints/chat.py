"""``/chat/<app_id>``: chatbot, agent and chatflow apps (``session.app.chat.invoke``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.native
from relay.core.apps import CHAT


class ChatEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.native.serve(self.session, r, values, settings, CHAT)
