"""HTTP request -> a validated description of the Dify call, or a 4xx ``RelayError``.

Fields may come from a JSON body, a form body or the query string (see the HTTP contract). Nothing in
here touches Dify or produces bytes.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from werkzeug import Request
from werkzeug.datastructures import MultiDict

from relay.apps import AppKind
from relay.errors import app_not_found, invalid_request, payload_too_large

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Bodies above this are refused; the daemon itself silently cuts bodies at 10 MiB."""

_APP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Format(StrEnum):
    NDJSON = "ndjson"
    SSE = "sse"
    HTML = "html"
    JSON = "json"

    @property
    def streams(self) -> bool:
        return self is not Format.JSON


class ResponseMode(StrEnum):
    STREAMING = "streaming"
    BLOCKING = "blocking"


# Order matters: for ``Accept: */*`` (curl, fetch) werkzeug picks the first offer, and the contract's
# default is ndjson.
_MEDIA_TYPES: dict[str, Format] = {
    "application/x-ndjson": Format.NDJSON,
    "text/event-stream": Format.SSE,
    "application/json": Format.JSON,
    "text/html": Format.HTML,
}


@dataclass(frozen=True)
class AppCall:
    """Everything needed to invoke one Dify app, already validated."""

    app_id: str
    inputs: dict[str, Any] = field(default_factory=dict)
    query: str | None = None
    conversation_id: str | None = None
    user: str | None = None
    response_mode: ResponseMode = ResponseMode.STREAMING


def choose_format(request: Request) -> Format:
    """``?format=`` first, then the best ``Accept`` match, then ndjson."""
    asked = request.args.get("format")
    if asked is not None:
        try:
            return Format(asked.strip().lower())
        except ValueError:
            allowed = ", ".join(f.value for f in Format)
            raise invalid_request(f"Unknown format {asked!r}; use one of {allowed}.") from None
    best = request.accept_mimetypes.best_match(list(_MEDIA_TYPES))
    return _MEDIA_TYPES[best] if best else Format.NDJSON


def check_app_id(app_id: str) -> str:
    """Dify app ids are UUIDs; anything else cannot name an app, so Dify is not asked."""
    if not _APP_ID.match(app_id):
        raise app_not_found(f"{app_id!r} is not a Dify app id (a UUID such as 0f3c...-...).")
    return app_id.lower()


# An empty POST leaves the daemon as a chunked body with only its terminator (Go's http.Request.Write sends
# a non-nil empty body chunked), and the SDK's parser drops Transfer-Encoding but keeps those five bytes.
_EMPTY_CHUNKED_BODY = b"0\r\n\r\n"


def body_of(request: Request) -> bytes:
    """The request body as the client sent it (the daemon's empty chunked body is no body)."""
    body = request.get_data(cache=True)
    return b"" if body == _EMPTY_CHUNKED_BODY else body


def check_body_size(request: Request) -> None:
    # The daemon already cut anything past 10 MiB, so the whole body is at hand to measure.
    if len(body_of(request)) > MAX_BODY_BYTES:
        raise payload_too_large(MAX_BODY_BYTES)


def is_form(request: Request) -> bool:
    return request.method == "POST" and request.mimetype in _FORM_TYPES and bool(body_of(request))


def read_fields(request: Request) -> dict[str, Any]:
    """The request's fields as one mapping: body fields win over query-string fields."""
    fields: dict[str, Any] = _flatten(request.args)
    body = body_of(request)
    if request.method != "POST" or not body:
        return fields
    if is_form(request):
        fields.update(_flatten(request.form))
    elif request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        fields.update(_json_object(body))
    else:
        raise invalid_request(
            f"Unsupported Content-Type {request.mimetype or '(none)'!r}; send application/json, "
            "application/x-www-form-urlencoded or multipart/form-data."
        )
    return fields


def parse_call(fields: Mapping[str, Any], app_id: str, kind: AppKind, output: Format) -> AppCall:
    """Validate the fields of one request against what ``kind`` of app accepts."""
    if not kind.takes_query:
        for name in ("query", "conversation_id"):
            if fields.get(name) not in (None, ""):
                raise invalid_request(f"{name} is a field of chat apps only; a {kind.label} takes inputs.")

    inputs = _inputs(fields)
    query = _optional_string(fields, "query")
    if kind.takes_query and not query:
        raise invalid_request("query is required: the message to send to the chat app.")

    mode_text = _optional_string(fields, "response_mode")
    default_mode = ResponseMode.BLOCKING if output is Format.JSON else ResponseMode.STREAMING
    try:
        mode = ResponseMode(mode_text) if mode_text else default_mode
    except ValueError:
        raise invalid_request(f"Unknown response_mode {mode_text!r}; use streaming or blocking.") from None
    if output is Format.JSON and mode is ResponseMode.STREAMING:
        raise invalid_request(
            "format json returns one document: use response_mode blocking, or ndjson / sse to stream."
        )

    return AppCall(
        app_id=app_id,
        inputs=inputs,
        query=query if kind.takes_query else None,
        conversation_id=(_optional_string(fields, "conversation_id") or None) if kind.takes_query else None,
        user=_optional_string(fields, "user") or None,
        response_mode=mode,
    )


def has_call_fields(fields: Mapping[str, Any], kind: AppKind) -> bool:
    """Whether a request says anything to the app (a bare browser GET says nothing: it wants the form)."""
    if kind.takes_query:
        return bool(fields.get("query"))
    return any(name == "inputs" or name.startswith("inputs.") for name in fields)


def _flatten(values: MultiDict[str, str]) -> dict[str, Any]:
    return {name: values.get(name) for name in values}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_request(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise invalid_request('The JSON body must be an object such as {"inputs": {}}.')
    return value


def _optional_string(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    raise invalid_request(f"{name} must be a string.")


def _inputs(fields: Mapping[str, Any]) -> dict[str, Any]:
    raw = fields.get("inputs")
    if raw is None or raw == "":
        inputs: dict[str, Any] = {}
    elif isinstance(raw, dict):
        inputs = dict(raw)
    elif isinstance(raw, str):
        try:
            inputs = json.loads(raw)
        except ValueError:
            raise invalid_request('inputs must be a JSON object, e.g. inputs={"topic":"tea"}.') from None
        if not isinstance(inputs, dict):
            raise invalid_request('inputs must be a JSON object, e.g. inputs={"topic":"tea"}.')
    else:
        raise invalid_request("inputs must be an object.")
    # inputs.<name>=<value> pairs set one input each and win over the inputs object.
    for name, value in fields.items():
        if name.startswith("inputs.") and len(name) > len("inputs."):
            inputs[name.removeprefix("inputs.")] = value
    return inputs


__all__ = [
    "MAX_BODY_BYTES",
    "AppCall",
    "Format",
    "ResponseMode",
    "body_of",
    "check_app_id",
    "check_body_size",
    "choose_format",
    "has_call_fields",
    "is_form",
    "parse_call",
    "read_fields",
]
