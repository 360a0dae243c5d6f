"""Returns ``session.app.fetch_app(app_id)`` as JSON, or ``{"error": "<message>"}``."""

import json
from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class FetchEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        try:
            result = dict(self.session.app.fetch_app(values["app_id"]))
        except Exception as exc:
            result = {"error": str(exc)}
        return Response(json.dumps(result), status=200, content_type="application/json")
