"""The OpenAI-compatible surface: every app ``allowed_apps`` lists is a model, for the clients people already use."""

from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from relay.core import shell
from relay.core.dify import DifySession
from relay.openai_compat.handler import CHAT_COMPLETIONS, MODELS, ChatCompletionsSurface, ModelsSurface


def serve(
    session: DifySession,
    request: Request,
    values: Mapping[str, Any],
    settings: Mapping[str, Any],
    route: ModelsSurface | ChatCompletionsSurface,
) -> Response:
    """Answer one request to ``route`` (``MODELS`` or ``CHAT_COMPLETIONS``). Never raises."""
    return shell.serve(route, session, request, values, settings)


__all__ = ["CHAT_COMPLETIONS", "MODELS", "serve"]
