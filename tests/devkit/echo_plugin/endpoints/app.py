"""Calls ``session.app.<kind>.invoke`` with the JSON body's fields and streams the events as NDJSON.

Any failure becomes a last line ``{"error": "<message>"}``, so tests can see Dify's (the devkit's) wording.
"""

import json
from collections.abc import Generator, Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class AppEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        fields = json.loads(r.get_data() or b"{}")
        kind = values["kind"]
        app_id = values["app_id"]
        mode = fields.get("response_mode", "streaming")
        common = {"app_id": app_id, "inputs": fields.get("inputs", {}), "response_mode": mode}
        common["user"] = fields.get("user")
        if kind == "chat":
            common.update(query=fields.get("query"), conversation_id=fields.get("conversation_id"))

        def lines() -> Generator[str, None, None]:
            try:
                result = getattr(self.session.app, kind).invoke(**common)
                for event in [result] if mode == "blocking" else result:
                    yield json.dumps(event) + "\n"
            except Exception as exc:
                yield json.dumps({"error": str(exc)}) + "\n"

        return Response(lines(), status=200, content_type="application/x-ndjson")
