"""Answers with a JSON description of the request exactly as the plugin received it."""

import hashlib
import json
from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class EchoEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        body = r.get_data()
        description = {
            "method": r.method,
            "path": r.path,
            "query_string": r.query_string.decode("latin-1"),
            "headers": [[name, value] for name, value in r.headers.items()],
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_head": body[:64].decode("latin-1"),
            "values": dict(values),
            "settings": dict(settings),
        }
        return Response(json.dumps(description), status=200, content_type="application/json")
