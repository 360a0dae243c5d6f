"""The 2026-07-28 revision: no handshake, every request stands alone.

A request carries its protocol version and the client's capabilities in ``params._meta``, and repeats its version,
its method and (for ``tools/call``) the tool's name in headers, so that a gateway can route it without reading the
body. The server checks that the two agree before it answers, in the specification's order (the first failure
wins): the envelope is there (-32602), the headers match the body (-32020), the version is one it speaks (-32022).
Every result says ``resultType: "complete"`` and who answered (``_meta`` serverInfo); list results also say how
long a client may cache them.

Which era answers a message is decided by its ``MCP-Protocol-Version`` header: a handshake revision (or no header,
as ``initialize`` is sent) goes to the handshake code, anything else to the checks here, which refuse a version
they do not know with its name and the list of those they do.
"""

import base64
import binascii
import re
from enum import Enum
from typing import Any

from werkzeug.datastructures import Headers

from relay.mcp_server.identity import SERVER_INFO
from relay.mcp_server.protocol import (
    CLIENT_CAPABILITIES_META,
    HANDSHAKE_VERSIONS,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    MODERN_VERSIONS,
    PROTOCOL_VERSION_META,
    SERVER_INFO_META,
    RpcError,
    unsupported_version,
)


class Era(Enum):
    HANDSHAKE = "handshake"
    """2025-03-26 to 2025-11-25: ``initialize`` agrees on the version once."""
    MODERN = "modern"
    """2026-07-28: every request carries its version."""


VERSION_HEADER = "MCP-Protocol-Version"
METHOD_HEADER = "Mcp-Method"
NAME_HEADER = "Mcp-Name"
NAMED_BY = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The methods whose target is repeated in ``Mcp-Name``, and the parameter it repeats."""
CACHEABLE = frozenset({"server/discover", "tools/list", "resources/list", "resources/templates/list", "prompts/list"})
CACHE_TTL_MS = 0
"""Tool lists follow ``allowed_apps`` and the apps' forms, which change without notice: never fresh for long."""
CACHE_SCOPE = "private"
"""What an endpoint lists depends on its settings and on the key that asked: no cache may share it."""
_ENCODED = re.compile(r"=\?base64\?(?P<payload>.*)\?=")


def era_of(header: str | None, message: dict[str, Any]) -> Era | None:
    """The era that answers ``message``; ``None`` for a version header that names no revision this server speaks
    on a message without the modern envelope (nothing could answer it)."""
    if header in MODERN_VERSIONS:
        return Era.MODERN
    if header in HANDSHAKE_VERSIONS:
        return Era.HANDSHAKE
    envelope = _carries_envelope(message)
    if header is None:
        # ``initialize`` goes out before any version is agreed, hence without the header, whatever its params say.
        return Era.MODERN if envelope and message.get("method") != "initialize" else Era.HANDSHAKE
    return Era.MODERN if envelope else None


def check_request(headers: Headers, message: dict[str, Any]) -> RpcError | None:
    """Why this modern request may not be answered, or ``None`` when it may."""
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    meta = params.get("_meta")
    if not isinstance(meta, dict) or PROTOCOL_VERSION_META not in meta or CLIENT_CAPABILITIES_META not in meta:
        return RpcError(
            INVALID_PARAMS, f"params._meta must carry {PROTOCOL_VERSION_META!r} and {CLIENT_CAPABILITIES_META!r}."
        )
    version = meta[PROTOCOL_VERSION_META]
    header = headers.get(VERSION_HEADER)
    # An absent header must not pass as "equal" to a null version in the body.
    if header is None or header != version:
        return RpcError(HEADER_MISMATCH, f"The {VERSION_HEADER} header does not match the request's protocol version.")
    method = message.get("method")
    if headers.get(METHOD_HEADER) != method:
        return RpcError(HEADER_MISMATCH, f"The {METHOD_HEADER} header does not match the request's method.")
    named_by = NAMED_BY.get(str(method))
    named = params.get(named_by) if named_by is not None else None
    if named is not None and _decoded(headers.get(NAME_HEADER)) != named:
        return RpcError(HEADER_MISMATCH, f"The {NAME_HEADER} header does not match the request's {named_by!r}.")
    if version not in MODERN_VERSIONS:
        return unsupported_version(str(version))
    # No method of this server needs a client capability (no sampling, no elicitation), so none is ever missing.
    return None


def check_notification(headers: Headers) -> RpcError | None:
    """A notification is acknowledged at a version this server speaks; at another, it is told so as a request is."""
    header = headers.get(VERSION_HEADER)
    return None if header in MODERN_VERSIONS else unsupported_version(str(header or ""))


def finish(method: str, result: dict[str, Any]) -> dict[str, Any]:
    """A result as 2026-07-28 has it: complete, signed with the server's identity, cacheable if it is a list."""
    finished = dict(result)
    finished["resultType"] = "complete"
    if method in CACHEABLE:
        finished["ttlMs"] = CACHE_TTL_MS
        finished["cacheScope"] = CACHE_SCOPE
    finished["_meta"] = {SERVER_INFO_META: SERVER_INFO}
    return finished


def _carries_envelope(message: dict[str, Any]) -> bool:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_META in meta


def _decoded(value: str | None) -> str | None:
    """A header value as the client meant it: ``=?base64?…?=`` carries what plain ASCII cannot. A malformed one is
    ``None``, so that it never matches anything."""
    if value is None:
        return None
    encoded = _ENCODED.fullmatch(value)
    if encoded is None:
        return value
    try:
        raw = base64.b64decode(encoded["payload"], validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
