"""``/workflow/<app_id>``: workflow apps (``session.app.workflow.invoke``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.native
from relay.core.apps import WORKFLOW


class WorkflowEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.native.serve(self.session, r, values, settings, WORKFLOW)
