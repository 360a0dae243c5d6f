"""The OpenAI-compatible surface: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Same endpoint, same settings, same core as the native routes: the api key (OpenAI clients send it as a Bearer
token), ``allowed_apps`` (models are the apps it lists; any other model is OpenAI's 404 ``model_not_found``),
CORS. Every app call streams from Dify, even when the client wants one document: streaming keeps a model error's
own text, and agent apps answer no other way.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from werkzeug import Request, Response

from relay.core import access
from relay.core.answer import Answer
from relay.core.apps import CHAT, AppKind
from relay.core.calls import AppCall, ResponseMode, check_call_size
from relay.core.catalog import App, Catalog
from relay.core.errors import RelayError, internal_error, invalid_request, shown
from relay.core.files import attach_files
from relay.core.http import body_of, check_body_size, json_object
from relay.core.invoke import start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.core.responses import STREAM_HEADERS, json_response, streamed_response
from relay.core.stream import encode
from relay.openai_compat import conversations
from relay.openai_compat.inputs import AppForm, image_file
from relay.openai_compat.render import ChunkEncoder, completion, error_of
from relay.openai_compat.request import ChatRequest, Message, parse_chat_request

logger = logging.getLogger(__name__)

CONVERSATION_HEADER = "X-Conversation-Id"
Answering = Callable[[Catalog, dict[str, str]], Response]
"""What a route does once the caller is admitted: given the endpoint's apps and the CORS headers, the response."""


def list_models(session: Any, request: Request, settings: Mapping[str, Any]) -> Response:
    """The apps ``allowed_apps`` lists, as models: by name, or by id when they have none."""
    return _guarded(request, settings, lambda catalog, cors: json_response(_models(catalog), 200, cors))


def chat_completions(session: Any, request: Request, settings: Mapping[str, Any]) -> Response:
    return _guarded(request, settings, lambda catalog, cors: _complete(session, request, catalog, cors))


def _guarded(request: Request, settings: Mapping[str, Any], answer: Answering) -> Response:
    """Preflights, access checks, and every error as OpenAI's error object: nothing escapes as a traceback."""
    rules = access.AccessSettings.from_settings(settings)
    cors = access.cors_headers(request, rules, expose=(CONVERSATION_HEADER,))
    if request.method == "OPTIONS":
        return Response(status=204, headers=access.preflight_headers(request, rules))
    try:
        catalog = access.admit(request, settings, rules)
        return answer(catalog, cors)
    except RelayError as error:
        return json_response(error_of(error), error.status, cors | error.headers)
    except Exception:
        logger.exception("unexpected failure on the OpenAI-compatible surface")
        return json_response(error_of(internal_error()), 500, cors)


def _models(catalog: Catalog) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": app.label, "object": "model", "created": 0, "owned_by": "dify", "type": (app.kind or CHAT).name}
            for app in catalog.listed()
        ],
    }


def _complete(session: Any, request: Request, catalog: Catalog, cors: dict[str, str]) -> Response:
    if request.method != "POST":
        raise invalid_request("Send the request as a POST with a JSON body.")
    check_body_size(request)
    chat = parse_chat_request(json_object(body_of(request)), request.headers.get(CONVERSATION_HEADER))
    app = _served_model(catalog, chat.model)
    kind = app.kind or CHAT
    endpoint_id = str(getattr(session, "endpoint_id", "") or "")
    form = AppForm(session, app.app_id, app.label)
    call = _call(session, app, kind, chat, endpoint_id, form)
    images = chat.messages[-1].images
    if images:
        files = [image_file(url, index) for index, url in enumerate(images, 1)]
        call = attach_files(session, call, {chat.file_input or form.image_input(): files}, app.label)
    check_call_size(call)
    invocation = start_invocation(session, kind, call, patience=stream_patience() if chat.stream else None)
    answer = Answer(kind)

    def remember(done: Answer) -> None:
        if kind.takes_query and done.conversation_id and done.error is None:
            history = [*chat.messages, Message("assistant", done.text)]
            key = conversations.history_key(endpoint_id, app.app_id, chat.user, history)
            conversations.remember(session.storage, key, done.conversation_id)

    if chat.stream:
        first = invocation.first if isinstance(invocation.first, dict) else {}
        if first.get("event") == "error":  # the app failed before its first word: the status can still say so
            invocation.close()
            raise _app_failure(first)
        encoder = ChunkEncoder(answer, chat.model, include_usage=chat.include_usage, on_finished=remember)
        # The first event is in (unless the app stays silent): its conversation id can still go into the headers.
        conversation_id = first.get("conversation_id") or call.conversation_id
        headers = cors | STREAM_HEADERS | _conversation_header(conversation_id)
        body = encode(encoder, invocation.batches(keepalive_seconds()), name="openai")
        return streamed_response(body, 200, headers, "text/event-stream")

    for event in invocation.events():
        answer.read(event)
    if answer.error is not None:
        raise _app_failure(answer.error)
    remember(answer)
    return json_response(completion(answer, chat.model), 200, cors | _conversation_header(answer.conversation_id))


def _served_model(catalog: Catalog, model: str) -> App:
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
        param="model",
    )


def _app_failure(error: Mapping[str, Any]) -> RelayError:
    """The app's own error (a model's quota, a failed run...): a bad gateway, with Dify's code and message."""
    code = error.get("code")
    message = error.get("message")
    return RelayError(
        502,
        code if isinstance(code, str) and code else "invocation_failed",
        message if isinstance(message, str) and message else "The app failed.",
    )


def _conversation_header(conversation_id: Any) -> dict[str, str]:
    return {CONVERSATION_HEADER: conversation_id} if isinstance(conversation_id, str) and conversation_id else {}


def _call(session: Any, app: App, kind: AppKind, chat: ChatRequest, endpoint_id: str, form: AppForm) -> AppCall:
    """The Dify call for this request: a chat app gets the new message, the others it as an input."""
    text = chat.question if chat.question.strip() else ""
    if kind.takes_query:
        if not text:
            raise _invalid(
                f"{app.label} is a chat app, and Dify asks a chat app in words: add text to the images.", "messages"
            )
        conversation_id = chat.conversation_id
        query = text
        earlier = [message for message in chat.history if message.text.strip()]
        if conversation_id is None and earlier:
            key = conversations.history_key(endpoint_id, app.app_id, chat.user, chat.history)
            conversation_id = conversations.recall(session.storage, key)
            if conversation_id is None:
                query = conversations.with_context(chat.history, text)
        return AppCall(
            app_id=app.app_id,
            inputs=dict(chat.inputs),
            query=query,
            conversation_id=conversation_id,
            user=chat.user,
            response_mode=ResponseMode.STREAMING,
        )
    inputs = dict(chat.inputs)
    if text:
        inputs[form.message_input(chat.query_input)] = text
    else:
        form.check_without_text(inputs)
    return AppCall(app_id=app.app_id, inputs=inputs, user=chat.user, response_mode=ResponseMode.STREAMING)


def _invalid(message: str, param: str) -> RelayError:
    return replace(invalid_request(message), param=param)
