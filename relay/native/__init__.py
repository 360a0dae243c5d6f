"""The native surface: ``/chat|/workflow|/completion/<app>``, streamed as NDJSON, SSE or a live HTML page, or one
JSON document (the README's contract)."""

from relay.native.handler import relay_request

__all__ = ["relay_request"]
