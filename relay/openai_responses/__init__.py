"""The OpenAI Responses API: every app ``allowed_apps`` lists is a model, for Codex, the Agents SDK and other
Responses clients (``POST /v1/responses``, ``GET /v1/responses/{id}``)."""

from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from relay.core import shell
from relay.core.dify import DifySession
from relay.openai_responses.handler import CREATE, RETRIEVE


def serve(session: DifySession, request: Request, values: Mapping[str, Any], settings: Mapping[str, Any]) -> Response:
    """Answer one request: ``GET /v1/responses/{id}`` when the path names a response, else ``POST /v1/responses``.
    Never raises."""
    surface = RETRIEVE if "response_id" in values else CREATE
    return shell.serve(surface, session, request, values, settings)


__all__ = ["CREATE", "RETRIEVE", "serve"]
