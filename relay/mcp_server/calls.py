"""``tools/call``: runs the app a tool stands for; the answer is one JSON result, or an SSE stream.

A client that accepts ``text/event-stream`` gets the stream: it starts as soon as the app answers (or, for an app
that stays silent, after the keep-alive interval), carries ``notifications/progress`` while the app runs when the
call has a ``progressToken``, keep-alive comments through long silences, and the result last. Any other client
gets the result alone once the run ends. Either way a run that fails, a stream Dify cuts short and an event the
plugin cannot read end as a tool result with ``isError``; events that make no sense are passed over. Only an
unknown tool is a protocol error.
"""

import logging
from collections.abc import Callable, Iterator
from typing import Any

from relay.core.answer import Answer
from relay.core.apps import AppKind
from relay.core.calls import AppCall, ResponseMode, check_call_size
from relay.core.catalog import App, Catalog
from relay.core.dify import Dify
from relay.core.errors import GENERIC_FAILURE, RelayError, invalid_request, shown
from relay.core.files import attach_files
from relay.core.invoke import Invocation, start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.core.stream import encode
from relay.core.wire import SSE_KEEPALIVE
from relay.mcp_server import arguments, tools
from relay.mcp_server.methods import parameters
from relay.mcp_server.progress import ProgressNotes
from relay.mcp_server.protocol import INVALID_PARAMS, RpcError, notification, reply, sse
from relay.mcp_server.results import error_result, tool_result

logger = logging.getLogger(__name__)

Finish = Callable[[dict[str, Any]], dict[str, Any]]
"""What the era adds to a result before it goes out (``relay.mcp_server.modern.finish``)."""
MAX_TOKEN_BYTES = 256
"""The longest ``progressToken`` accepted: it is repeated in every progress notice, so it must stay small."""


def call_tool(
    dify: Dify, catalog: Catalog, ident: Any, params: dict[str, Any], *, streams: bool, finish: Finish
) -> dict[str, Any] | Iterator[bytes]:
    """The call's result (to be sent as JSON), or, when ``streams``, the SSE body that ends with it."""
    app = _tool(catalog, params.get("name"))
    kind = tools.tool_kind(app)
    token = _progress_token(params)
    try:
        call = _app_call(dify, app, kind, params.get("arguments"))
        invocation = start_invocation(dify, kind, call, patience=stream_patience() if streams else None)
    except RelayError as error:
        return finish(error_result(error.message))
    if streams:
        stream = CallStream(ident, kind, token, finish, silent=invocation.first is None)
        return encode(stream, invocation.batches(keepalive_seconds()), name="mcp")
    return finish(_run(kind, invocation))


def _tool(catalog: Catalog, name: Any) -> App:
    found = next((app for app in catalog.named() if app.name == name), None)
    if found is None:
        raise RpcError(INVALID_PARAMS, f"Unknown tool {shown(name)}; tools/list names the tools.")
    return found


def _app_call(dify: Dify, app: App, kind: AppKind, given: Any) -> AppCall:
    query, conversation_id, inputs = arguments.split_arguments(kind, given if isinstance(given, dict) else {})
    if kind.takes_query and not query:
        raise invalid_request("query is required: the message to send to the app.")
    # File inputs arrive as {url} or {data, mimeType, name} objects: taken out of the inputs, then uploaded.
    file_variables = set(parameters(dify, app).file_inputs()) if inputs else set()
    files = arguments.file_arguments(inputs, file_variables)
    call = AppCall(
        app_id=app.app_id,
        inputs=inputs,
        query=query,
        conversation_id=conversation_id,
        response_mode=ResponseMode.STREAMING,
    )
    call = attach_files(dify, call, files, app.label)
    check_call_size(call)
    return call


def _progress_token(params: dict[str, Any]) -> str | int | None:
    """The call's ``progressToken``: a string or an integer of at most ``MAX_TOKEN_BYTES``, else -32602."""
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    if token is None:
        return None
    if not isinstance(token, str | int) or isinstance(token, bool) or len(str(token).encode()) > MAX_TOKEN_BYTES:
        raise RpcError(INVALID_PARAMS, f"A progressToken is a string or an integer of at most {MAX_TOKEN_BYTES} bytes.")
    return token


def _run(kind: AppKind, invocation: Invocation) -> dict[str, Any]:
    """Read the whole run, then say how it ended."""
    answer = Answer(kind)
    try:
        for event in invocation.events():
            answer.read(event)
        return tool_result(kind, answer)
    except Exception:
        logger.exception("an MCP tool call failed inside the plugin")
        return error_result(GENERIC_FAILURE)
    finally:
        invocation.close()


class CallStream:
    """A ``tools/call`` as SSE (an encoder for ``relay.core.stream``): progress while the app runs, then the result."""

    def __init__(
        self, ident: Any, kind: AppKind, token: str | int | None, finish: Finish, *, silent: bool = False
    ) -> None:
        self.ident, self.kind, self.token, self.finish = ident, kind, token, finish
        self.silent = silent
        """The app said nothing for a whole keep-alive interval before the stream began."""
        self.answer = Answer(kind)
        self.notes = ProgressNotes()
        self.sent = 0

    def start(self) -> bytes:
        # A silent app has already used up one interval: its stream opens with a keep-alive, not a second wait.
        return SSE_KEEPALIVE if self.silent else b""

    def event(self, event: Any) -> bytes:
        self.answer.read(event)
        note = self.notes.note(event) if self.token is not None else None
        if note is None:
            return b""
        self.sent += 1
        params = {"progressToken": self.token, "progress": self.sent, "message": note}
        return sse(notification("notifications/progress", params))

    def keepalive(self) -> bytes:
        return SSE_KEEPALIVE

    def failure(self, error: dict[str, Any]) -> bytes:
        self.answer.error = {"message": str(error.get("message")), "code": error.get("code")}
        return b""

    def end(self) -> bytes:
        try:
            result = tool_result(self.kind, self.answer)
        except Exception:
            logger.exception("an MCP tool result could not be built")
            result = error_result(GENERIC_FAILURE)
        return sse(reply(self.ident, self.finish(result)))
