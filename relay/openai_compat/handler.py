"""The OpenAI-compatible surface: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Same endpoint, same settings, same core as the native routes: the api key (OpenAI clients send it as a Bearer
token), ``allowed_apps`` (models are the apps it lists; any other model is OpenAI's 404 ``model_not_found``),
CORS. Every app call streams from Dify, even when the client wants one document: streaming keeps a model error's
own text, and agent apps answer no other way. The message history becomes a Dify call in the core's chat session
(``relay.core.chat``); this module only reads OpenAI's request and writes OpenAI's answer.
"""

from dataclasses import dataclass
from typing import Any

from werkzeug import Response

from relay.core.answer import Answer
from relay.core.apps import CHAT
from relay.core.catalog import App, Catalog
from relay.core.chat import ChatSession, app_failure
from relay.core.errors import RelayError, shown
from relay.core.http import body_of, json_object
from relay.core.invoke import start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.core.responses import STREAM_HEADERS, json_response, streamed_response
from relay.core.shell import Exchange
from relay.core.stream import encode
from relay.openai_compat.render import ChunkEncoder, completion, error_of
from relay.openai_compat.request import parse_chat_request

CONVERSATION_HEADER = "X-Conversation-Id"


@dataclass(frozen=True)
class _OpenAiSurface:
    """What both routes share: OpenAI's error object for every refusal, the conversation header readable."""

    name: str = "openai"
    methods: tuple[str, ...] = ("POST",)
    expose_headers: tuple[str, ...] = (CONVERSATION_HEADER,)
    vary: tuple[str, ...] = ()
    form_key: bool = False
    foreign_origins: bool = True
    public: bool = False

    def error(self, error: RelayError, exchange: Exchange) -> Response:
        return json_response(error_of(error), error.status, exchange.cors | error.headers)


@dataclass(frozen=True)
class ModelsSurface(_OpenAiSurface):
    """``GET /v1/models``: the apps ``allowed_apps`` lists, as models: by name, or by id when they have none."""

    methods: tuple[str, ...] = ("GET",)

    def answer(self, exchange: Exchange) -> Response:
        return json_response(_models(exchange.apps), 200, exchange.cors)


@dataclass(frozen=True)
class ChatCompletionsSurface(_OpenAiSurface):
    """``POST /v1/chat/completions``."""

    def answer(self, exchange: Exchange) -> Response:
        return _complete(exchange)


MODELS = ModelsSurface()
CHAT_COMPLETIONS = ChatCompletionsSurface()


def _models(catalog: Catalog) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": app.label, "object": "model", "created": 0, "owned_by": "dify", "type": (app.kind or CHAT).name}
            for app in catalog.listed()
        ],
    }


def _complete(exchange: Exchange) -> Response:
    request = exchange.request
    parsed = parse_chat_request(json_object(body_of(request)), request.headers.get(CONVERSATION_HEADER))
    app = served_model(exchange.apps, parsed.model)
    kind = app.kind or CHAT
    session = ChatSession(exchange.dify, app, kind, exchange.caller)
    call = session.call(parsed.chat)
    invocation = start_invocation(exchange.dify, kind, call, patience=stream_patience() if parsed.stream else None)
    answer = Answer(kind)

    def remember(done: Answer) -> None:
        if done.error is None:
            session.remember(parsed.chat, done.text, done.conversation_id)

    if parsed.stream:
        first = invocation.first if isinstance(invocation.first, dict) else {}
        if first.get("event") == "error":  # the app failed before its first word: the status can still say so
            invocation.close()
            raise app_failure(first)
        encoder = ChunkEncoder(answer, parsed.model, include_usage=parsed.include_usage, on_finished=remember)
        # The first event is in (unless the app stays silent): its conversation id can still go into the headers.
        conversation_id = first.get("conversation_id") or call.conversation_id
        headers = exchange.cors | STREAM_HEADERS | _conversation_header(conversation_id)
        body = encode(encoder, invocation.batches(keepalive_seconds()), name="openai")
        return streamed_response(body, 200, headers, "text/event-stream")

    for event in invocation.events():
        answer.read(event)
    if answer.error is not None:
        raise app_failure(answer.error)
    remember(answer)
    headers = exchange.cors | _conversation_header(answer.conversation_id)
    return json_response(completion(answer, parsed.model), 200, headers)


def served_model(catalog: Catalog, model: str) -> App:
    """The app ``model`` names. Whatever the reason it is not served (no such name, an id ``allowed_apps`` does
    not list), an OpenAI client is told what OpenAI tells it: this model does not exist."""
    try:
        return catalog.find(model)
    except RelayError as error:
        if error.code not in ("app_not_found", "app_not_allowed"):
            raise
    raise RelayError(
        404,
        "model_not_found",
        f"The model {shown(model)} does not exist on this endpoint: GET /v1/models lists the models it serves.",
        request_field="model",
    )


def _conversation_header(conversation_id: Any) -> dict[str, str]:
    return {CONVERSATION_HEADER: conversation_id} if isinstance(conversation_id, str) and conversation_id else {}
