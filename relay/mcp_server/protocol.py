"""The MCP wire as this server speaks it: the revisions, JSON-RPC's messages and error codes, and their framing.

Two eras share ``/mcp``. The *handshake* revisions (2025-03-26, 2025-06-18, 2025-11-25) agree on a version once,
with ``initialize``; the *modern* revision 2026-07-28 has no handshake: every request carries its version and the
client's capabilities in ``params._meta`` and in headers, and ``server/discover`` tells a client what the server
speaks (``relay.mcp_server.modern``).
"""

from typing import Any

from relay.core.errors import shown
from relay.core.wire import json_text, sse_json

HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
"""Newest first: the revisions ``initialize`` negotiates, back to 2025-03-26."""
MODERN_VERSIONS = ("2026-07-28",)
"""The revisions of the per-request envelope (``server/discover``, no handshake)."""
SUPPORTED_VERSIONS = MODERN_VERSIONS + HANDSHAKE_VERSIONS
"""Every revision this server speaks, newest first: what a refusal of another version lists."""
BATCH_VERSION = "2025-03-26"
"""The one revision whose clients may send JSON-RPC batches (2025-06-18 removed them)."""

PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022

MODERN_ERROR_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
"""The HTTP status of a JSON-RPC error on the 2026-07-28 wire; any other code goes out with 200, as it does on
the handshake revisions' wire for every code."""


class RpcError(Exception):
    """A request answered with a JSON-RPC error instead of a result."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def unsupported_version(requested: str) -> RpcError:
    """The refusal of a protocol version this server does not speak; ``data`` lists those it does, so a client
    that knows one of them can retry with it."""
    return RpcError(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version {shown(requested)}; this server speaks {', '.join(SUPPORTED_VERSIONS)}.",
        {"supported": list(SUPPORTED_VERSIONS), "requested": requested},
    )


def reply(ident: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "result": result}


def error(ident: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return {"jsonrpc": "2.0", "id": ident, "error": body}


def error_of(ident: Any, failure: RpcError) -> dict[str, Any]:
    return error(ident, failure.code, failure.message, failure.data)


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def dumps(message: Any) -> str:
    """A message as strict JSON text (``relay.core.wire``): an app's ``NaN`` or ``Infinity`` reads as ``null``."""
    return json_text(message)


def sse(message: dict[str, Any]) -> bytes:
    """One message as a Server-Sent Event. No ``id:`` line: these streams cannot be resumed, and an id would
    invite a client to reconnect with GET when a stream breaks."""
    return sse_json(message, event="message")
