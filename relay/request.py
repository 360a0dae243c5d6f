"""HTTP request -> a validated description of the Dify call, or a 4xx ``RelayError``.

Fields may come from a JSON body, a form body or the query string (see the HTTP contract). Nothing in
here touches Dify or produces bytes.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl

from werkzeug import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from relay.apps import AppKind
from relay.errors import invalid_request, payload_too_large, shown
from relay.limits import MAX_BODY_BYTES, MAX_CALL_BYTES, MAX_FORM_FIELDS, MAX_INPUT_DEPTH

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
    asked = query_fields(request).get("format")
    if asked is not None:
        try:
            return Format(asked.strip().lower())
        except ValueError:
            allowed = ", ".join(f.value for f in Format)
            raise invalid_request(f"Unknown format {shown(asked)}; use one of {allowed}.") from None
    return accepted_format(request)


def accepted_format(request: Request) -> Format:
    """The best ``Accept`` match, else ndjson (what ``?format=`` would override)."""
    best = request.accept_mimetypes.best_match(list(_MEDIA_TYPES))
    return _MEDIA_TYPES[best] if best else Format.NDJSON


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
        raise payload_too_large(f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB.")


def is_form(request: Request) -> bool:
    return request.method == "POST" and request.mimetype in _FORM_TYPES and bool(body_of(request))


def query_fields(request: Request) -> dict[str, str]:
    """The query string's fields (the first value of each name), at most ``MAX_FORM_FIELDS`` of them."""
    cached = request.environ.get("relay.query_fields")
    if cached is None:
        cached = _urlencoded(request.query_string, "query string")
        request.environ["relay.query_fields"] = cached
    return cached


def form_fields(request: Request) -> dict[str, str]:
    """A form body's text fields (the first value of each name), parsed once and within bounds.

    The field count is checked before anything is decoded, so a hostile form costs next to nothing: this
    runs before the api key of a form POST can be checked, on the one event loop every request shares.
    """
    cached = request.environ.get("relay.form_fields")
    if cached is not None:
        return cached
    if not is_form(request):
        cached = {}
    elif request.mimetype == "multipart/form-data":
        cached = _multipart(request)
    else:
        cached = _urlencoded(body_of(request), "form body")
    request.environ["relay.form_fields"] = cached
    return cached


def read_fields(request: Request) -> dict[str, Any]:
    """The request's fields as one mapping: body fields win over query-string fields."""
    fields: dict[str, Any] = dict(query_fields(request))
    body = body_of(request)
    if request.method != "POST" or not body:
        return fields
    if is_form(request):
        fields.update(form_fields(request))
    elif request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        fields.update(_json_object(body))
    else:
        raise invalid_request(
            f"Unsupported Content-Type {shown(request.mimetype or '(none)')}; send application/json, "
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
        raise invalid_request(f"Unknown response_mode {shown(mode_text)}; use streaming or blocking.") from None
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


def check_call_size(call: AppCall) -> None:
    """Refuse, before Dify is called, an app call the SDK could not send or that would grow its line too long.

    The SDK encodes the call as one JSON line to the daemon (pydantic: UTF-8, control characters escaped),
    which kills the plugin at 5 MiB; that serializer also fails on lone surrogates and on values nested
    255 levels deep. Measuring the same encoding here turns each of those into a clear 4xx.
    """
    _check_depth(call.inputs, "inputs", 1)
    payload = {"inputs": call.inputs, "query": call.query, "conversation_id": call.conversation_id, "user": call.user}
    try:
        size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    except UnicodeEncodeError:
        raise invalid_request("The request holds text that is not valid Unicode (a lone surrogate).") from None
    if size > MAX_CALL_BYTES:
        raise payload_too_large(
            f"The app call would be {size // 1024} KiB once encoded; the limit is {MAX_CALL_BYTES // 1024} KiB "
            "(control characters count six bytes each)."
        )


def _check_depth(value: Any, where: str, depth: int) -> None:
    if depth > MAX_INPUT_DEPTH:
        raise invalid_request(f"{where} nest deeper than {MAX_INPUT_DEPTH} levels.")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_depth(child, where, depth + 1)


def _urlencoded(data: bytes, where: str) -> dict[str, str]:
    # parse_qsl counts the separators before decoding anything, so too many fields cost one scan.
    try:
        pairs = parse_qsl(data.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise invalid_request(f"The {where} is not valid UTF-8.") from None
    except ValueError:
        raise payload_too_large(f"The {where} has more than {MAX_FORM_FIELDS} fields.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _multipart(request: Request) -> dict[str, str]:
    body = body_of(request)
    parser = FormDataParser(
        max_form_memory_size=MAX_BODY_BYTES,
        max_content_length=MAX_BODY_BYTES,
        max_form_parts=MAX_FORM_FIELDS,
        silent=False,
    )
    try:
        _, form, _files = parser.parse(BytesIO(body), request.mimetype, len(body), request.mimetype_params)
    except RequestEntityTooLarge:
        raise payload_too_large(f"The form body has more than {MAX_FORM_FIELDS} parts.") from None
    except (ValueError, UnicodeDecodeError):
        raise invalid_request("The multipart form body could not be read.") from None
    return {name: form.get(name, "") for name in form}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except RecursionError:
        raise invalid_request("The JSON body nests too deeply.") from None
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
    "accepted_format",
    "body_of",
    "check_body_size",
    "check_call_size",
    "choose_format",
    "form_fields",
    "has_call_fields",
    "is_form",
    "parse_call",
    "query_fields",
    "read_fields",
]
