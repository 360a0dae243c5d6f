"""``/completion/<app_id>``: text generation apps (``session.app.completion.invoke``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.native
from relay.core.apps import COMPLETION


class CompletionEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.native.serve(self.session, r, values, settings, COMPLETION)
