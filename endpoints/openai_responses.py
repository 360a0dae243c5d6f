"""``/v1/responses`` and ``/v1/responses/<response_id>``: any app of the endpoint as a model of OpenAI's Responses
API (``relay.openai_responses``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.openai_responses


class OpenAIResponsesEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.openai_responses.serve(self.session, r, values, settings)
