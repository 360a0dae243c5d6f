"""The native surface's requests: fields from a JSON body, a form or the query string, and the output format.

See the README's contract for what each field means. Nothing in here touches Dify or produces bytes.
"""

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from werkzeug import Request

from relay.core.apps import AppKind
from relay.core.calls import AppCall, ResponseMode
from relay.core.errors import invalid_request, shown
from relay.core.http import body_of, form_fields, is_form, json_object, query_fields


class Format(StrEnum):
    NDJSON = "ndjson"
    SSE = "sse"
    HTML = "html"
    JSON = "json"

    @property
    def streams(self) -> bool:
        return self is not Format.JSON


# Order matters: for ``Accept: */*`` (curl, fetch) werkzeug picks the first offer, and the contract's
# default is ndjson.
_MEDIA_TYPES: dict[str, Format] = {
    "application/x-ndjson": Format.NDJSON,
    "text/event-stream": Format.SSE,
    "application/json": Format.JSON,
    "text/html": Format.HTML,
}


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


def read_fields(request: Request) -> dict[str, Any]:
    """The request's fields as one mapping: body fields win over query-string fields."""
    fields: dict[str, Any] = dict(query_fields(request))
    body = body_of(request)
    if request.method != "POST" or not body:
        return fields
    if is_form(request):
        fields.update(form_fields(request))
    elif request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        fields.update(json_object(body))
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
