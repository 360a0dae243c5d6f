"""The OpenAI-compatible surface: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Same endpoint, same settings, same core as the native routes: the api key (OpenAI clients send it as a Bearer
token), ``allowed_apps`` (models are the apps it lists), CORS. Every app call streams from Dify, even when the
client wants one document: streaming keeps a model error's own text, and agent apps answer no other way.
"""

import base64
import binascii
import logging
import mimetypes
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from werkzeug import Request, Response

from relay.core import access
from relay.core.answer import Answer
from relay.core.apps import CHAT, AppKind
from relay.core.calls import AppCall, ResponseMode, check_call_size
from relay.core.catalog import App, Catalog
from relay.core.errors import RelayError, internal_error, invalid_request
from relay.core.files import Remote, Upload, attach_files, file_inputs
from relay.core.http import body_of, check_body_size, json_object
from relay.core.invoke import fetch_parameters, start_invocation, stream_patience
from relay.core.pump import keepalive_seconds
from relay.core.responses import STREAM_HEADERS, json_response, streamed_response
from relay.core.stream import encode
from relay.openai_compat import conversations
from relay.openai_compat.render import ChunkEncoder, completion, error_of
from relay.openai_compat.request import ChatRequest, Message, parse_chat_request

logger = logging.getLogger(__name__)

CONVERSATION_HEADER = "X-Conversation-Id"
_TEXT_INPUTS = ("text-input", "paragraph")


def list_models(session: Any, request: Request, settings: Mapping[str, Any]) -> Response:
    """The apps ``allowed_apps`` lists, as models: by name, or by id when they have none."""
    return _guarded(request, settings, lambda catalog, cors: json_response(_models(catalog), 200, cors))


def chat_completions(session: Any, request: Request, settings: Mapping[str, Any]) -> Response:
    return _guarded(request, settings, lambda catalog, cors: _complete(session, request, catalog, cors))


def _guarded(request: Request, settings: Mapping[str, Any], answer: Any) -> Response:
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
    app = catalog.find(chat.model)
    kind = app.kind or CHAT
    endpoint_id = str(getattr(session, "endpoint_id", "") or "")
    call = _call(session, app, kind, chat, endpoint_id)
    images = chat.messages[-1].images
    if images:
        files = [image_file(url, index) for index, url in enumerate(images, 1)]
        target = chat.file_input or _only_file_input(session, app)
        call = attach_files(session, call, {target: files}, app.label)
    check_call_size(call)
    invocation = start_invocation(session, kind, call, patience=stream_patience() if chat.stream else None)
    answer = Answer(kind)

    def remember(done: Answer) -> None:
        if kind.takes_query and done.conversation_id and done.error is None:
            history = [*chat.messages, Message("assistant", done.text)]
            key = conversations.history_key(endpoint_id, app.app_id, chat.user, history)
            conversations.remember(session.storage, key, done.conversation_id)

    if chat.stream:
        encoder = ChunkEncoder(answer, chat.model, include_usage=chat.include_usage, on_finished=remember)
        # The first event is in (unless the app stays silent): its conversation id can still go into the headers.
        first = invocation.first if isinstance(invocation.first, dict) else {}
        headers = cors | STREAM_HEADERS | _conversation_header(first.get("conversation_id"))
        body = encode(encoder, invocation.batches(keepalive_seconds()), name="openai")
        return streamed_response(body, 200, headers, "text/event-stream")

    for event in invocation.events():
        answer.read(event)
    if answer.error is not None:
        code = str(answer.error.get("code") or "invocation_failed")
        raise RelayError(502, code, answer.error["message"])
    remember(answer)
    return json_response(completion(answer, chat.model), 200, cors | _conversation_header(answer.conversation_id))


def _conversation_header(conversation_id: Any) -> dict[str, str]:
    return {CONVERSATION_HEADER: conversation_id} if isinstance(conversation_id, str) and conversation_id else {}


def _call(session: Any, app: App, kind: AppKind, chat: ChatRequest, endpoint_id: str) -> AppCall:
    """The Dify call for this request: a chat app gets the new message, the others it as an input."""
    if kind.takes_query:
        conversation_id = chat.conversation_id
        query = chat.question
        earlier = [message for message in chat.history if message.text.strip()]
        if conversation_id is None and earlier:
            key = conversations.history_key(endpoint_id, app.app_id, chat.user, chat.history)
            conversation_id = conversations.recall(session.storage, key)
            if conversation_id is None:
                query = conversations.with_context(chat.history, chat.question)
        return AppCall(
            app_id=app.app_id,
            inputs=dict(chat.inputs),
            query=query,
            conversation_id=conversation_id,
            user=chat.user,
            response_mode=ResponseMode.STREAMING,
        )
    target = chat.query_input or _only_text_input(session, app)
    inputs = {**chat.inputs, target: chat.question}
    return AppCall(app_id=app.app_id, inputs=inputs, user=chat.user, response_mode=ResponseMode.STREAMING)


def image_file(url: str, index: int) -> Upload | Remote:
    """An ``image_url``: a data URL is uploaded to Dify, an http(s) URL Dify fetches itself."""
    if not url.startswith("data:"):
        return Remote(url, mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/*")
    header, _, payload = url.partition(",")
    mimetype = header[5:].split(";", 1)[0] or "image/png"
    try:
        content = base64.b64decode(payload, validate=True) if ";base64" in header else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise invalid_request(f"Image {index} is not a valid base64 data URL.") from None
    extension = mimetypes.guess_extension(mimetype) or ".bin"
    return Upload(f"image-{index}{extension}", content, mimetype)


def _only_file_input(session: Any, app: App) -> str:
    """The input that receives the images: the app's only file input, or else its only one that takes images."""
    found = file_inputs(fetch_parameters(session, app.app_id))
    if len(found) == 1:
        return next(iter(found))
    for_images = [variable for variable, target in found.items() if not target.types or "image" in target.types]
    if len(for_images) == 1:
        return for_images[0]
    described = ", ".join(found) or "none"
    raise invalid_request(
        f'{app.label} has {len(found)} file inputs ({described}): say which one receives the images with "file_input".'
    )


def _only_text_input(session: Any, app: App) -> str:
    """The input that receives the message of a workflow or completion app: its one text input."""
    form = fetch_parameters(session, app.app_id).get("user_input_form")
    names = []
    for entry in form if isinstance(form, list) else []:
        if isinstance(entry, dict) and len(entry) == 1:
            ((control, spec),) = entry.items()
            if control in _TEXT_INPUTS and isinstance(spec, dict) and isinstance(spec.get("variable"), str):
                names.append(spec["variable"])
    if len(names) == 1:
        return names[0]
    described = ", ".join(names) if names else "none"
    raise invalid_request(
        f"{app.label} has {len(names)} text inputs ({described}): say which one receives the message with "
        '"query_input" (and pass the others in "inputs").'
    )
