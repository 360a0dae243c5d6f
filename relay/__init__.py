"""The relay core: HTTP request -> Dify app call -> streamed or blocking HTTP response.

This package holds no ``Endpoint`` subclass on purpose: the SDK imports every endpoint source file and
takes *every* ``Endpoint`` subclass it finds there, so shared code must live outside ``endpoints/``.
"""

from relay.apps import CHAT, COMPLETION, WORKFLOW, AppKind
from relay.handler import relay_request

__all__ = ["CHAT", "COMPLETION", "WORKFLOW", "AppKind", "relay_request"]
