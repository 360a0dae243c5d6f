"""The relay: HTTP request -> Dify app call -> streamed or blocking HTTP response, on every surface.

``relay.core`` is protocol-neutral (the shell every request runs in, access, an app's parameters, the call, chat
sessions, Dify's failures, the event pump, the wire's bytes); each surface (``relay.native``,
``relay.openai_compat``, ``relay.mcp_server``, ``relay.file_links``) parses its own requests and renders its own
answers, and has one entry, ``serve``, that its endpoint classes call. This package holds no ``Endpoint`` subclass
on purpose: the SDK imports every endpoint source file and takes *every* ``Endpoint`` subclass it finds there, so
shared code must live outside ``endpoints/``.
"""

from relay.core.apps import CHAT, COMPLETION, WORKFLOW, AppKind

__all__ = ["CHAT", "COMPLETION", "WORKFLOW", "AppKind"]
