"""``/mcp``: MCP's Streamable HTTP transport, stateless, both eras of the protocol, on the core's shell.

Stateless on purpose: Dify may run many copies of the plugin and gives no sticky sessions, so the server keeps no
session (no ``Mcp-Session-Id``), answers ``GET`` and ``DELETE`` with 405, and answers each POST on its own. The
shell has checked the caller's key, the endpoint's apps, the body's size, and a browser origin: a page on a site
``cors_allowed_origins`` does not list gets 403 (a local MCP server must not be driven by any site a person visits).

Everything a client sends back is bounded before it is echoed: a request id is a string of at most
``MAX_ID_BYTES`` or a number (-32600 otherwise: MCP forbids null), a method a string, a progress token at most
``MAX_ID_BYTES`` (-32602), so no answer grows with what a client chose to put there.
"""

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from werkzeug import Response

from relay.core.errors import RelayError, shown
from relay.core.http import body_of
from relay.core.invoke import response_deadline
from relay.core.responses import NO_SNIFF, STREAM_HEADERS, streamed_response, whole_response
from relay.core.shell import Exchange
from relay.core.stream import sliced
from relay.core.wire import json_bytes
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
"""Messages in one JSON-RPC batch at most."""
MAX_BATCH_CALLS = 8
"""``tools/call`` requests in one batch at most: each runs an app, one after the other, within one request's time
limit (600 s); more are refused (-32600) before any runs."""
MAX_ID_BYTES = 256
"""The longest request id (or progress token) echoed back; ids are for matching answers, not for carrying data."""
BATCH_MARGIN_SECONDS = 60.0
"""A batch's next call starts only if this much of the request's time is left: a call cut by the platform's limit
answers nothing at all."""


@dataclass(frozen=True)
class McpSurface:
    name: str = "mcp"
    methods: tuple[str, ...] = ("POST",)
    expose_headers: tuple[str, ...] = ()
    vary: tuple[str, ...] = ()
    form_key: bool = False
    foreign_origins: bool = False
    public: bool = False

    def answer(self, exchange: Exchange) -> Response:
        try:
            message = json.loads(body_of(exchange.request))
        except (ValueError, RecursionError):
            return _json(error(None, PARSE_ERROR, "The body is not valid JSON."), 400, exchange.cors)
        if isinstance(message, list):
            return _batch(exchange, message)
        return _single(exchange, message)

    def error(self, failure: RelayError, exchange: Exchange) -> Response:
        """A refusal before any JSON-RPC: the HTTP status says it, and ``error.data.code`` says which one."""
        document = error(None, INVALID_REQUEST, failure.message, {"code": failure.code})
        return _json(document, failure.status, exchange.cors | failure.headers)


MCP = McpSurface()


@dataclass(frozen=True)
class Reply:
    """What a request gets: a JSON document with its status, or an SSE body."""

    document: Any = None
    status: int = 200
    stream: Iterator[bytes] | None = None


def _single(exchange: Exchange, message: Any) -> Response:
    cors = exchange.cors
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _json(error(None, INVALID_REQUEST, "Send one JSON-RPC 2.0 message."), 400, cors)
    headers = exchange.request.headers
    malformed = _malformed(message)
    if malformed is not None:
        return _json(error_of(None, malformed), 400, cors)
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
        refused = modern.check_request(headers, message)
        if refused is not None:
            return _json(error_of(message["id"], refused), MODERN_ERROR_STATUS.get(refused.code, 200), cors)
    streams = "text/event-stream" in headers.get("Accept", "")
    answer = _answer(exchange, era, message, streams=streams)
    if answer.stream is not None:
        return streamed_response(answer.stream, 200, cors | STREAM_HEADERS, "text/event-stream")
    return _json(answer.document, answer.status, cors)


def _malformed(message: dict[str, Any]) -> RpcError | None:
    """Why a message's envelope cannot be answered: an id, method or params of the wrong type or size."""
    if "id" in message and not _valid_id(message["id"]):
        return RpcError(
            INVALID_REQUEST, f"A request id is a string of at most {MAX_ID_BYTES} bytes or a number (not null)."
        )
    if "method" in message and not isinstance(message["method"], str):
        return RpcError(INVALID_REQUEST, "A request's method is a string.")
    if "method" in message and not isinstance(message.get("params", {}), dict):
        return RpcError(INVALID_REQUEST, "A request's params, if any, are an object.")
    return None


def _valid_id(ident: Any) -> bool:
    if isinstance(ident, str):
        return len(ident.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES
    return isinstance(ident, int | float) and not isinstance(ident, bool) and len(repr(ident)) <= MAX_ID_BYTES


def _answer(exchange: Exchange, era: Era, message: dict[str, Any], *, streams: bool) -> Reply:
    ident, method = message["id"], message["method"]
    params = message.get("params") if isinstance(message.get("params"), dict) else {}

    def finish(result: dict[str, Any]) -> dict[str, Any]:
        return modern.finish(method, result) if era is Era.MODERN else result

    try:
        if method == "tools/call":
            outcome = calls.call_tool(exchange.dify, exchange.apps, ident, params, streams=streams, finish=finish)
            if not isinstance(outcome, dict):
                return Reply(stream=outcome)
            return Reply(reply(ident, outcome))
        result = methods.result_of(exchange.dify, exchange.apps, era, method, params)
        return Reply(reply(ident, finish(result)))
    except RpcError as failure:
        status = MODERN_ERROR_STATUS.get(failure.code, 200) if era is Era.MODERN else 200
        return Reply(error_of(ident, failure), status)
    except Exception:
        logger.exception("the MCP method %s failed inside the plugin", shown(method))
        return Reply(error(ident, INTERNAL_ERROR, "The server failed; see the plugin log."))


def _batch(exchange: Exchange, messages: list[Any]) -> Response:
    """A JSON-RPC batch, as 2025-03-26 requires servers to accept one: each request answered in turn, as JSON.

    The answer is written as each request is answered (a JSON array that grows): a client that hangs up stops the
    batch before its next app call starts, and so does a request time limit that is near.
    """
    cors = exchange.cors
    header = exchange.request.headers.get(VERSION_HEADER)
    if header not in (None, BATCH_VERSION):
        refusal = f"JSON-RPC batches ended with revision 2025-06-18; at {shown(header)}, send one message per request."
        return _json(error(None, INVALID_REQUEST, refusal), 400, cors)
    if not messages or len(messages) > MAX_BATCH:
        refusal = f"A batch holds 1 to {MAX_BATCH} messages; send more as several requests."
        return _json(error(None, INVALID_REQUEST, refusal), 400, cors)
    runs = sum(1 for message in messages if isinstance(message, dict) and message.get("method") == "tools/call")
    if runs > MAX_BATCH_CALLS:
        refusal = (
            f"A batch runs at most {MAX_BATCH_CALLS} tools (this one asks for {runs}); send more as several requests."
        )
        return _json(error(None, INVALID_REQUEST, refusal), 400, cors)
    if not any(isinstance(item, dict) and "id" in item and "method" in item for item in messages) and all(
        isinstance(item, dict) and item.get("jsonrpc") == "2.0" for item in messages
    ):
        return Response(status=202, headers=cors)  # notifications and responses only: nothing to answer
    return Response(
        sliced(_batch_body(exchange, messages)), status=200, headers=cors | NO_SNIFF, content_type="application/json"
    )


def _batch_body(exchange: Exchange, messages: list[Any]) -> Iterator[bytes]:
    deadline = response_deadline()
    separator = b"["
    for message in messages:
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            document = error(None, INVALID_REQUEST, "Each message of a batch is one JSON-RPC 2.0 object.")
        elif (malformed := _malformed(message)) is not None:
            document = error_of(None, malformed)
        elif "method" not in message or "id" not in message:
            continue  # notifications and responses get no answer
        elif message["method"] == "initialize":
            document = error(message["id"], INVALID_REQUEST, "initialize may not be part of a batch.")
        elif message["method"] == "tools/call" and deadline - time.monotonic() < BATCH_MARGIN_SECONDS:
            document = error(message["id"], INTERNAL_ERROR, "Not run: the request's time limit was too near.")
        else:
            document = _answer(exchange, Era.HANDSHAKE, message, streams=False).document
        # Each answer goes out as it is ready: if the client is gone, the body is closed here, before the next run.
        yield separator + json_bytes(document)
        separator = b","
    yield b"]" if separator == b"," else b"[]"


def _json(document: Any, status: int, headers: dict[str, str]) -> Response:
    return whole_response(dumps(document), status, headers | NO_SNIFF, "application/json")
