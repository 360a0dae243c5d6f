"""The Responses API surface: ``POST /v1/responses`` and ``GET /v1/responses/{id}``.

Same endpoint, settings and models as ``/v1/models``: the api key, ``allowed_apps`` (every app it lists is a
model; any other model is OpenAI's 404 ``model_not_found``), CORS. The request becomes a Dify call in the core's
chat session (``relay.core.chat``), as a Chat Completions request does: a resent history continues its
conversation the same way. ``previous_response_id`` continues the conversation its id carries
(``relay.openai_responses.ids``), and only for the api key that made it. Every app call streams from Dify, even when
the client wants one document: streaming keeps a model error's own text, and agent apps answer no other way.
"""

import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from werkzeug import Response

from relay.core.answer import Answer
from relay.core.apps import CHAT
from relay.core.catalog import App
from relay.core.chat import ChatSession, app_failure
from relay.core.errors import RelayError, shown
from relay.core.http import body_of, json_object
from relay.core.invoke import start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.core.responses import STREAM_HEADERS, json_response, streamed_response
from relay.core.shell import Exchange
from relay.core.stream import encode
from relay.openai_compat.handler import served_model
from relay.openai_responses.ids import ResponseIds, ResponseRef
from relay.openai_responses.kept import KEPT_PER_CALLER, KEPT_SECONDS, MAX_RECORD_BYTES, KeptResponses
from relay.openai_responses.render import EventEncoder, Head, Output, error_of, lost_conversation, whole
from relay.openai_responses.request import ResponsesRequest, parse_responses_request

LOST = "conversation_not_found"


@dataclass(frozen=True)
class _ResponsesSurface:
    """What both routes share: OpenAI's error object for every refusal."""

    name: str = "openai-responses"
    methods: tuple[str, ...] = ("POST",)
    expose_headers: tuple[str, ...] = ()
    vary: tuple[str, ...] = ()
    form_key: bool = False
    foreign_origins: bool = True
    public: bool = False

    def error(self, error: RelayError, exchange: Exchange) -> Response:
        return json_response(error_of(error), error.status, exchange.cors | error.headers)


@dataclass(frozen=True)
class CreateSurface(_ResponsesSurface):
    """``POST /v1/responses``."""

    def answer(self, exchange: Exchange) -> Response:
        return _create(exchange)


@dataclass(frozen=True)
class RetrieveSurface(_ResponsesSurface):
    """``GET /v1/responses/{id}``: a response this caller kept."""

    methods: tuple[str, ...] = ("GET",)

    def answer(self, exchange: Exchange) -> Response:
        return _retrieve(exchange)


CREATE = CreateSurface()
RETRIEVE = RetrieveSurface()


class _Turn:
    """One response under way: what its id and its kept copy need, once the app has said enough."""

    def __init__(self, exchange: Exchange, parsed: ResponsesRequest, app: App, conversation_id: str | None) -> None:
        dify = exchange.dify
        self.ids = ResponseIds(dify.storage, dify.endpoint_id, exchange.caller)
        self.kept = KeptResponses(dify.storage, dify.endpoint_id, exchange.caller) if parsed.store else None
        self.app = app
        self.continued = conversation_id
        self.nonce = secrets.token_bytes(8)
        self.head = Head(parsed.model.strip(), parsed.previous_response_id, parsed.metadata, int(time.time()))
        self.ref: ResponseRef | None = None

    def make_id(self, answer: Answer) -> str:
        """The response's id: the conversation the app answered in (else the one continued), and the slot its copy
        is kept in."""
        slot = self.kept.reserve() if self.kept is not None else None
        self.ref = ResponseRef(
            app_id=self.app.app_id,
            conversation_id=answer.conversation_id or self.continued,
            created_at=self.head.created_at,
            nonce=self.nonce,
            slot=slot,
        )
        return self.ids.make(self.ref)

    def keep(self, document: dict[str, Any]) -> None:
        if self.kept is not None and self.ref is not None and self.ref.slot is not None:
            self.kept.keep(self.ref.slot, self.nonce, document)


def _create(exchange: Exchange) -> Response:
    parsed = parse_responses_request(json_object(body_of(exchange.request)))
    app = served_model(exchange.apps, parsed.model.strip())
    kind = app.kind or CHAT
    chat = parsed.chat
    continued = None
    if parsed.previous_response_id is not None:
        previous = _previous(exchange, parsed.previous_response_id, app)
        continued = previous.conversation_id if kind.takes_query else None
        chat = replace(chat, conversation_id=continued)  # a workflow or completion app has no memory to continue
    session = ChatSession(exchange.dify, app, kind, exchange.caller)
    call = session.call(chat)
    try:
        invocation = start_invocation(exchange.dify, kind, call, patience=stream_patience() if parsed.stream else None)
    except RelayError as error:
        raise _said_here(error, parsed) from None
    turn = _Turn(exchange, parsed, app, continued)
    answer = Answer(kind)
    output = Output(turn.nonce.hex())

    def finished(document: dict[str, Any], done: Answer) -> None:
        if done.error is None:
            session.remember(chat, done.text, done.conversation_id)
        turn.keep(document)

    if parsed.stream:
        first = invocation.first if isinstance(invocation.first, dict) else {}
        if first.get("event") == "error":  # the app failed before its first word: the status can still say so
            invocation.close()
            raise _said_here(app_failure(first), parsed)
        encoder = EventEncoder(
            answer,
            turn.head,
            output,
            make_id=turn.make_id,
            on_finished=finished,
            describe=lambda e: _described(e, parsed),
        )
        body = encode(encoder, invocation.batches(keepalive_seconds()), name="openai-responses")
        return streamed_response(body, 200, exchange.cors | STREAM_HEADERS, "text/event-stream")

    for event in invocation.events():
        output.add(answer.read(event))
    if answer.error is not None:
        raise _said_here(app_failure(answer.error), parsed)
    document = whole(turn.make_id(answer), turn.head, answer, output)
    finished(document, answer)
    return json_response(document, 200, exchange.cors)


def _previous(exchange: Exchange, response_id: str, app: App) -> ResponseRef:
    """What ``previous_response_id`` names, if this endpoint made it for this caller, for this app."""
    ref = ResponseIds(exchange.dify.storage, exchange.dify.endpoint_id, exchange.caller).read(response_id)
    if ref is None:
        raise RelayError(
            400,
            "previous_response_not_found",
            f"Previous response with id {shown(response_id)} not found: an id works on the endpoint that made it, "
            "for the api key that asked.",
            request_field="previous_response_id",
        )
    if ref.app_id != app.app_id:
        raise RelayError(
            400,
            "invalid_request",
            f"Previous response {shown(response_id)} was answered by another model: a conversation continues in the "
            "app that holds it.",
            request_field="previous_response_id",
        )
    return ref


def _said_here(error: RelayError, parsed: ResponsesRequest) -> RelayError:
    """A lost conversation said in this surface's terms: the client named a response, not a conversation."""
    if error.code == LOST and parsed.previous_response_id is not None:
        return replace(
            error, message=lost_conversation(parsed.previous_response_id), request_field="previous_response_id"
        )
    return error


def _described(error: dict[str, Any], parsed: ResponsesRequest) -> dict[str, Any]:
    if error.get("code") == LOST and parsed.previous_response_id is not None:
        return {**error, "message": lost_conversation(parsed.previous_response_id)}
    return error


def _retrieve(exchange: Exchange) -> Response:
    response_id = str(exchange.values.get("response_id", ""))
    dify = exchange.dify
    ref = ResponseIds(dify.storage, dify.endpoint_id, exchange.caller).read(response_id)
    if ref is None:
        raise _not_found(
            f"No response with id {shown(response_id)} here: an id works on the endpoint that made it, for the api "
            "key that asked."
        )
    if ref.slot is None:
        raise _not_found(
            f"Response {shown(response_id)} was not kept: it was made with store: false (or plugin storage could not "
            "keep it)."
        )
    found = KeptResponses(dify.storage, dify.endpoint_id, exchange.caller).find(ref.slot, ref.nonce)
    if found.document is None:
        why = {
            "expired": f"it is older than {KEPT_SECONDS // 86400} days",
            "too_large": f"it was larger than {MAX_RECORD_BYTES // 1024} KiB compressed",
        }.get(
            found.reason, f"each api key keeps its last {KEPT_PER_CALLER} responses, for {KEPT_SECONDS // 86400} days"
        )
        raise _not_found(f"Response {shown(response_id)} is no longer kept: {why}.")
    return json_response(found.document, 200, exchange.cors)


def _not_found(message: str) -> RelayError:
    return RelayError(404, "response_not_found", message)
