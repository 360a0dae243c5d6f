"""The MCP surface: ``/mcp``, the Streamable HTTP transport of the Model Context Protocol, stateless.

Every named app ``allowed_apps`` lists is a tool. Stateless: the server keeps no session (no ``Mcp-Session-Id``),
so any copy of the plugin answers any request, and a client needs nothing but the URL and the key. Both eras of
the protocol are served (``relay.mcp_server.modern``): the handshake revisions 2025-03-26 to 2025-11-25 and the
per-request revision 2026-07-28. A request is answered with one JSON object; a ``tools/call`` from a client that
accepts ``text/event-stream`` with an SSE stream instead (``relay.mcp_server.calls``). Notifications and
responses sent by the client are acknowledged with 202; a JSON-RPC batch is answered for 2025-03-26, the one
revision that had them.

Same endpoint, same settings as the other surfaces: the api key (``Authorization: Bearer``), ``allowed_apps``,
and ``cors_allowed_origins``, which here also guards ``Origin`` as the specification requires: a page on another
origin must not drive the server.
"""

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug import Request, Response

from relay.core import access
from relay.core.catalog import Catalog
from relay.core.errors import RelayError, shown
from relay.core.http import body_of, check_body_size
from relay.core.responses import NO_SNIFF, STREAM_HEADERS, streamed_response, whole_response
from relay.mcp_server import calls, methods, modern
from relay.mcp_server.modern import VERSION_HEADER, Era
from relay.mcp_server.protocol import (
    BATCH_VERSION,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    MODERN_ERROR_STATUS,
    PARSE_ERROR,
    RpcError,
    dumps,
    error,
    error_of,
    reply,
    unsupported_version,
)

logger = logging.getLogger(__name__)

MAX_BATCH = 32
"""Messages in one JSON-RPC batch at most: each may run an app, one after the other, within one request."""


@dataclass(frozen=True)
class Exchange:
    """One HTTP request to ``/mcp``, admitted: who asks, and which apps it may use."""

    session: Any
    request: Request
    catalog: Catalog

    @property
    def streams(self) -> bool:
        return "text/event-stream" in self.request.headers.get("Accept", "")


@dataclass(frozen=True)
class Reply:
    """What a request gets: a JSON document with its status, or an SSE body."""

    document: Any = None
    status: int = 200
    stream: Iterator[bytes] | None = None


def serve_mcp(session: Any, request: Request, settings: Mapping[str, Any]) -> Response:
    rules = access.AccessSettings.from_settings(settings)
    cors = access.cors_headers(request, rules)
    if request.method == "OPTIONS":
        return Response(status=204, headers=access.preflight_headers(request, rules))
    origin = request.headers.get("Origin")
    if origin and "Access-Control-Allow-Origin" not in cors:
        return _refusal(403, f"Origin {shown(origin)} may not use this server (see cors_allowed_origins).", cors)
    try:
        catalog = access.admit(request, settings, rules)
        check_body_size(request)
    except RelayError as failure:
        return _refusal(failure.status, failure.message, cors | failure.headers, failure.code)
    if request.method != "POST":
        # Stateless: no stream to resume with GET, no session to end with DELETE.
        return Response(status=405, headers=cors | {"Allow": "POST, OPTIONS"})
    try:
        message = json.loads(body_of(request))
    except (ValueError, RecursionError):
        return _json(error(None, PARSE_ERROR, "The body is not valid JSON."), 400, cors)
    exchange = Exchange(session, request, catalog)
    if isinstance(message, list):
        return _batch(exchange, message, cors)
    return _single(exchange, message, cors)


def _single(exchange: Exchange, message: Any, cors: dict[str, str]) -> Response:
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _json(error(None, INVALID_REQUEST, "Send one JSON-RPC 2.0 message."), 400, cors)
    headers = exchange.request.headers
    header = headers.get(VERSION_HEADER)
    era = modern.era_of(header, message)
    if era is None:
        return _json(error_of(message.get("id"), unsupported_version(str(header))), 400, cors)
    if "id" not in message:  # a notification: noted, if it speaks a version this server speaks
        refused = modern.check_notification(headers) if era is Era.MODERN else None
        return _json(error_of(None, refused), 400, cors) if refused else Response(status=202, headers=cors)
    if "method" not in message:  # the client's answer to a request: this server sends none, so nothing waits for it
        return Response(status=202, headers=cors)
    if era is Era.MODERN:
        refused = _malformed(message) or modern.check_request(headers, message)
        if refused is not None:
            return _json(error_of(message["id"], refused), MODERN_ERROR_STATUS.get(refused.code, 200), cors)
    answer = _answer(exchange, era, message, streams=exchange.streams)
    if answer.stream is not None:
        return streamed_response(answer.stream, 200, cors | STREAM_HEADERS, "text/event-stream")
    return _json(answer.document, answer.status, cors)


def _answer(exchange: Exchange, era: Era, message: dict[str, Any], *, streams: bool) -> Reply:
    ident, method = message["id"], message["method"]
    params = message.get("params") if isinstance(message.get("params"), dict) else {}

    def finish(result: dict[str, Any]) -> dict[str, Any]:
        return modern.finish(method, result) if era is Era.MODERN else result

    try:
        if method == "tools/call":
            outcome = calls.call_tool(exchange.session, exchange.catalog, ident, params, streams=streams, finish=finish)
            if not isinstance(outcome, dict):
                return Reply(stream=outcome)
            return Reply(reply(ident, outcome))
        result = methods.result_of(exchange.session, exchange.catalog, era, method, params)
        return Reply(reply(ident, finish(result)))
    except RpcError as failure:
        status = MODERN_ERROR_STATUS.get(failure.code, 200) if era is Era.MODERN else 200
        return Reply(error_of(ident, failure), status)
    except Exception:
        logger.exception("the MCP method %s failed inside the plugin", shown(method))
        return Reply(error(ident, INTERNAL_ERROR, "The server failed; see the plugin log."))


def _malformed(message: dict[str, Any]) -> RpcError | None:
    if not isinstance(message["method"], str) or not isinstance(message.get("params", {}), dict):
        return RpcError(INVALID_REQUEST, "A request needs a method name and, if any, params as an object.")
    return None


def _batch(exchange: Exchange, messages: list[Any], cors: dict[str, str]) -> Response:
    """A JSON-RPC batch, as 2025-03-26 requires servers to accept one: each request answered in turn, as JSON."""
    header = exchange.request.headers.get(VERSION_HEADER)
    if header not in (None, BATCH_VERSION):
        refusal = f"JSON-RPC batches ended with revision 2025-06-18; at {shown(header)}, send one message per request."
        return _json(error(None, INVALID_REQUEST, refusal), 400, cors)
    if not messages or len(messages) > MAX_BATCH:
        refusal = f"A batch holds 1 to {MAX_BATCH} messages; send more as several requests."
        return _json(error(None, INVALID_REQUEST, refusal), 400, cors)
    replies = []
    for message in messages:
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            replies.append(error(None, INVALID_REQUEST, "Each message of a batch is one JSON-RPC 2.0 object."))
        elif "method" not in message or "id" not in message:
            continue  # notifications and responses get no answer
        elif message["method"] == "initialize":
            replies.append(error(message["id"], INVALID_REQUEST, "initialize may not be part of a batch."))
        else:
            replies.append(_answer(exchange, Era.HANDSHAKE, message, streams=False).document)
    return _json(replies, 200, cors) if replies else Response(status=202, headers=cors)


def _refusal(status: int, message: str, headers: dict[str, str], code: str = "invalid_request") -> Response:
    """A refusal before any JSON-RPC: the HTTP status says it, and ``error.data.code`` says which one."""
    return _json(error(None, INVALID_REQUEST, message, {"code": code}), status, headers)


def _json(document: Any, status: int, headers: dict[str, str]) -> Response:
    return whole_response(dumps(document), status, headers | NO_SNIFF, "application/json")
