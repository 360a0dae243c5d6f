"""The relay: HTTP request -> Dify app call -> streamed or blocking HTTP response, on every surface.

``relay.core`` is protocol-neutral (access, apps, the call, Dify's failures, the event pump); each surface
(``relay.native``...) parses its own requests and renders its own responses. This package holds no ``Endpoint``
subclass on purpose: the SDK imports every endpoint source file and takes *every* ``Endpoint`` subclass it finds
there, so shared code must live outside ``endpoints/``.
"""

from relay.core.apps import CHAT, COMPLETION, WORKFLOW, AppKind
from relay.native.handler import relay_request

__all__ = ["CHAT", "COMPLETION", "WORKFLOW", "AppKind", "relay_request"]
