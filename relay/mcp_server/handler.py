"""The MCP surface: ``/mcp``, the Streamable HTTP transport of the Model Context Protocol, stateless.

Every app ``allowed_apps`` names is a tool. Stateless: the server keeps no session (no ``Mcp-Session-Id``), so any
copy of the plugin answers any request, and a client needs nothing but the URL and the key. A JSON-RPC request is
answered with one JSON object; a ``tools/call`` from a client that accepts ``text/event-stream`` is answered as an
SSE stream instead, which carries progress notifications while the app runs (when the call has a
``progressToken``), keep-alives through long silences, then the result. Notifications and responses sent by the
client are acknowledged with 202.

Same endpoint, same settings as the other surfaces: the api key (``Authorization: Bearer``), ``allowed_apps``,
and ``cors_allowed_origins``, which here also guards ``Origin`` as the specification requires: a page on another
origin must not drive the server.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from relay.core import access
from relay.core.answer import Answer
from relay.core.calls import AppCall, ResponseMode, check_call_size
from relay.core.catalog import App, Catalog
from relay.core.errors import RelayError, shown
from relay.core.files import attach_files, file_inputs
from relay.core.http import body_of, check_body_size
from relay.core.invoke import fetch_parameters, start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.core.responses import STREAM_HEADERS, json_response, streamed_response
from relay.core.stream import encode
from relay.mcp_server import tools

logger = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
"""Newest first: the handshake-era revisions the current ``mcp`` package speaks, back to 2025-03-26."""
SERVER_INFO = {"name": "app-relay", "title": "App Relay", "version": "0.2.0"}

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
_EMPTY_LISTS = {
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
    "prompts/list": "prompts",
}


def serve_mcp(session: Any, request: Request, settings: Mapping[str, Any]) -> Response:
    rules = access.AccessSettings.from_settings(settings)
    cors = access.cors_headers(request, rules)
    if request.method == "OPTIONS":
        return Response(status=204, headers=access.preflight_headers(request, rules))
    origin = request.headers.get("Origin")
    if origin and "Access-Control-Allow-Origin" not in cors:
        return _http_error(403, f"Origin {shown(origin)} may not use this server (see cors_allowed_origins).", cors)
    try:
        catalog = access.admit(request, settings, rules)
        check_body_size(request)
    except RelayError as error:
        return _http_error(error.status, error.message, cors | error.headers, error.code)
    if request.method != "POST":
        # Stateless: no stream to resume with GET, no session to end with DELETE.
        return Response(status=405, headers=cors | {"Allow": "POST, OPTIONS"})
    version = request.headers.get("MCP-Protocol-Version")
    if version is not None and version not in SUPPORTED_VERSIONS:
        supported = ", ".join(SUPPORTED_VERSIONS)
        return _http_error(
            400, f"Unsupported MCP-Protocol-Version {shown(version)}; this server speaks {supported}.", cors
        )
    try:
        message = json.loads(body_of(request))
    except (ValueError, RecursionError):
        return json_response(_error(None, PARSE_ERROR, "The body is not valid JSON."), 400, cors)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return json_response(_error(None, INVALID_REQUEST, "Send one JSON-RPC 2.0 message."), 400, cors)
    if "method" not in message or "id" not in message:
        return Response(status=202, headers=cors)  # a notification, or the client's answer to us: noted
    return _answer(session, request, catalog, message, cors)


def _answer(
    session: Any, request: Request, catalog: Catalog, message: dict[str, Any], cors: dict[str, str]
) -> Response:
    ident, method = message["id"], message["method"]
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    try:
        if method == "tools/call":
            return _call_tool(session, request, catalog, ident, params, cors)
        result = _result(session, catalog, method, params)
    except _RpcError as error:
        return json_response(_error(ident, error.code, error.message), 200, cors)
    except Exception:
        logger.exception("the MCP method %s failed inside the plugin", shown(method))
        return json_response(_error(ident, INTERNAL_ERROR, "The server failed; see the plugin log."), 200, cors)
    return json_response({"jsonrpc": "2.0", "id": ident, "result": result}, 200, cors)


def _result(session: Any, catalog: Catalog, method: Any, params: dict[str, Any]) -> dict[str, Any]:
    if method == "initialize":
        asked = params.get("protocolVersion")
        return {
            "protocolVersion": asked if asked in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[0],
            "capabilities": {"tools": {"listChanged": False}, "resources": {}, "prompts": {}},
            "serverInfo": SERVER_INFO,
            "instructions": "Each tool runs one Dify app of this workspace and returns its answer.",
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": [tools.describe(app, _parameters(session, app)) for app in catalog.named()]}
    if method in _EMPTY_LISTS:
        return {_EMPTY_LISTS[method]: []}  # clients probe these; an empty answer beats "method not found"
    raise _RpcError(METHOD_NOT_FOUND, f"Method {shown(method)} is not offered by this server.")


def _call_tool(
    session: Any, request: Request, catalog: Catalog, ident: Any, params: dict[str, Any], cors: dict[str, str]
) -> Response:
    app = _tool(catalog, params.get("name"))
    kind = tools.tool_kind(app)
    arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
    query, conversation_id, inputs = tools.split_arguments(kind, arguments)
    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
    token = meta.get("progressToken")
    answer = Answer(kind)
    try:
        if kind.takes_query and not query:
            raise RelayError(400, "invalid_request", "query is required: the message to send to the app.")
        # File inputs arrive as {url} or {data, mimeType, name} objects: taken out of the inputs, then uploaded.
        file_variables = set(file_inputs(_parameters(session, app))) if inputs else set()
        files = tools.file_arguments(inputs, file_variables)
        call = AppCall(
            app_id=app.app_id,
            inputs=inputs,
            query=query,
            conversation_id=conversation_id,
            response_mode=ResponseMode.STREAMING,
        )
        call = attach_files(session, call, files, app.label)
        check_call_size(call)
        streams = "text/event-stream" in request.headers.get("Accept", "")
        invocation = start_invocation(session, kind, call, patience=stream_patience() if streams else None)
    except RelayError as error:
        return json_response(_reply(ident, tools.error_result(error.message)), 200, cors)
    if streams:
        encoder = _CallStream(ident, kind, answer, token)
        body = encode(encoder, invocation.batches(keepalive_seconds()), name="mcp")
        return streamed_response(body, 200, cors | STREAM_HEADERS, "text/event-stream")
    for event in invocation.events():
        answer.read(event)
    return json_response(_reply(ident, tools.tool_result(kind, answer)), 200, cors)


class _CallStream:
    """A ``tools/call`` as SSE (an encoder for ``relay.core.stream``): progress while the app runs, then the result."""

    def __init__(self, ident: Any, kind: Any, answer: Answer, token: Any) -> None:
        self.ident, self.kind, self.answer, self.token = ident, kind, answer, token
        self.progress = 0

    def start(self) -> bytes:
        return b""

    def event(self, event: Any) -> bytes:
        self.answer.read(event)
        if self.token is None or not isinstance(event, dict):
            return b""
        note = _progress_note(event)
        if note is None:
            return b""
        self.progress += 1
        params = {"progressToken": self.token, "progress": self.progress, "message": note}
        return _sse({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    def keepalive(self) -> bytes:
        return b": keep-alive\n\n"

    def failure(self, error: dict[str, Any]) -> bytes:
        self.answer.error = {"message": str(error.get("message")), "code": error.get("code")}
        return b""

    def end(self) -> bytes:
        return _sse(_reply(self.ident, tools.tool_result(self.kind, self.answer)))


def _progress_note(event: dict[str, Any]) -> str | None:
    """What a person would like to know while the app runs; ``None`` for events that say nothing new."""
    name = event.get("event")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if name == "node_finished":
        return f"{data.get('title') or data.get('node_type') or 'A step'} {data.get('status') or 'finished'}"
    if name == "workflow_started":
        return "started"
    if name in ("message", "agent_message", "text_chunk"):
        return "answering"
    if name == "agent_thought" and event.get("tool"):
        return f"using {event['tool']}"
    return None


def _tool(catalog: Catalog, name: Any) -> App:
    found = next((app for app in catalog.named() if app.name == name), None)
    if found is None:
        raise _RpcError(INVALID_PARAMS, f"Unknown tool {shown(name)}; tools/list names the tools.")
    return found


def _parameters(session: Any, app: App) -> dict[str, Any]:
    try:
        return fetch_parameters(session, app.app_id)
    except RelayError as error:
        logger.warning("the form of app %s could not be read for its tool schema: %s", app.label, error.message)
        return {}


def _reply(ident: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "result": result}


def _error(ident: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}


def _http_error(status: int, message: str, headers: dict[str, str], code: str = "invalid_request") -> Response:
    """A refusal before any JSON-RPC: the HTTP status says it, and ``error.data.code`` says which one."""
    body = _error(None, INVALID_REQUEST, message)
    body["error"]["data"] = {"code": code}
    return json_response(body, status, headers)


def _sse(message: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + json.dumps(message, ensure_ascii=False).encode("utf-8", "replace") + b"\n\n"


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
