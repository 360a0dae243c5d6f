"""``/v1/models``: the apps of the endpoint, listed as OpenAI-compatible models (``relay.openai_compat``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.openai_compat


class OpenAIModelsEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.openai_compat.serve(self.session, r, values, settings, relay.openai_compat.MODELS)
