"""The native surface: ``/chat|/workflow|/completion/<app>``, streamed as NDJSON, SSE or a live HTML page, or one
JSON document (the README's contract)."""

from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from relay.core import shell
from relay.core.apps import AppKind
from relay.core.dify import DifySession
from relay.native.handler import NativeSurface


def serve(
    session: DifySession, request: Request, values: Mapping[str, Any], settings: Mapping[str, Any], kind: AppKind
) -> Response:
    """Answer one request for an app of ``kind``. Never raises: every failure is a response."""
    return shell.serve(NativeSurface(kind), session, request, values, settings)


__all__ = ["serve"]
