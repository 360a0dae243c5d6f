"""Apps as MCP tools: a tool's description and input schema from the app's form, its result from the events.

The schema comes from the app's ``user_input_form`` (``session.app.fetch_app``): one property per input, with
its type, whether it is required, its options (``enum``), its length and its number bounds, described by its
label; chat-type apps also take the ``query`` (required) and may take a ``conversation_id`` to go on with.
"""

import base64
import binascii
import json
import mimetypes
from typing import Any

from relay.core.apps import CHAT, AppKind
from relay.core.catalog import App
from relay.core.errors import invalid_request
from relay.core.files import Remote, Upload

_STRING = {"text-input", "paragraph", "select"}
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A file: its url (Dify fetches it), or its content as base64 data with its mimeType and name.",
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "data": {"type": "string", "contentEncoding": "base64"},
        "mimeType": {"type": "string"},
        "name": {"type": "string"},
    },
}


def tool_kind(app: App) -> AppKind:
    return app.kind or CHAT


def describe(app: App, parameters: dict[str, Any]) -> dict[str, Any]:
    """The tool definition ``tools/list`` gives for an app."""
    kind = tool_kind(app)
    opening = parameters.get("opening_statement")
    description = opening.strip() if isinstance(opening, str) and opening.strip() else f"Dify {kind.label} {app.name}."
    return {
        "name": app.name,
        "title": app.name,
        "description": description,
        "inputSchema": input_schema(kind, parameters.get("user_input_form")),
    }


def input_schema(kind: AppKind, form: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    if kind.takes_query:
        properties["query"] = {"type": "string", "description": "The message to the app."}
        properties["conversation_id"] = {
            "type": "string",
            "description": "Go on with an earlier conversation: the conversation_id a previous call returned.",
        }
        required.append("query")
    for entry in form if isinstance(form, list) else []:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        ((control, spec),) = entry.items()
        if not isinstance(spec, dict) or not isinstance(spec.get("variable"), str) or spec.get("hide"):
            continue
        prop = _property(control, spec)
        if prop is None:
            continue
        properties[spec["variable"]] = prop
        if spec.get("required") is True:
            required.append(spec["variable"])
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _property(control: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    label = spec.get("label")
    prop: dict[str, Any]
    if control in _STRING:
        prop = {"type": "string"}
        if control == "select" and isinstance(spec.get("options"), list):
            prop["enum"] = [str(option) for option in spec["options"]]
        if type(spec.get("max_length")) is int and spec["max_length"] > 0:
            prop["maxLength"] = spec["max_length"]
    elif control == "number":
        prop = {"type": "number"}
        for bound, name in (("min", "minimum"), ("max", "maximum")):
            if isinstance(spec.get(bound), int | float) and not isinstance(spec.get(bound), bool):
                prop[name] = spec[bound]
    elif control == "checkbox":
        prop = {"type": "boolean"}
    elif control == "file":
        prop = dict(FILE_SCHEMA)
    elif control == "file-list":
        prop = {"type": "array", "items": FILE_SCHEMA}
        if type(spec.get("max_length")) is int and spec["max_length"] > 0:
            prop["maxItems"] = spec["max_length"]
    else:
        return None  # anything newer than this plugin: not offered rather than guessed
    if isinstance(label, str) and label:
        prop["description"] = label if "description" not in prop else f"{label}. {prop['description']}"
    if spec.get("default") not in (None, ""):
        prop["default"] = spec["default"]
    return prop


def split_arguments(kind: AppKind, arguments: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """``(query, conversation_id, inputs)`` from a call's arguments."""
    inputs = dict(arguments)
    query = inputs.pop("query", None) if kind.takes_query else None
    conversation_id = inputs.pop("conversation_id", None) if kind.takes_query else None
    return (
        query if isinstance(query, str) else None,
        conversation_id if isinstance(conversation_id, str) and conversation_id else None,
        inputs,
    )


def file_arguments(inputs: dict[str, Any], file_variables: set[str]) -> dict[str, list[Upload | Remote]]:
    """The files a call's arguments give its file inputs (which are then taken out of ``inputs``)."""
    found: dict[str, list[Upload | Remote]] = {}
    for variable in file_variables & set(inputs):
        value = inputs.pop(variable)
        items = value if isinstance(value, list) else [value]
        found[variable] = [_file(variable, item) for item in items]
    return found


def _file(variable: str, item: Any) -> Upload | Remote:
    if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"].startswith(("http://", "https://")):
        return Remote(item["url"], str(item.get("mimeType") or ""))
    if isinstance(item, dict) and isinstance(item.get("data"), str):
        try:
            content = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid_request(f"{variable}: data is not valid base64.") from None
        mimetype = str(item.get("mimeType") or "application/octet-stream")
        name = str(item.get("name") or f"{variable}{mimetypes.guess_extension(mimetype) or ''}")
        return Upload(name, content, mimetype)
    raise invalid_request(f"{variable} takes a file: an object with an http(s) url, or base64 data.")


def tool_result(kind: AppKind, answer: Any) -> dict[str, Any]:
    """The ``tools/call`` result for a finished run (``relay.core.answer.Answer`` read it)."""
    if answer.error is not None:
        return error_result(answer.error["message"])
    if kind.name == "workflow":
        outputs = answer.outputs if isinstance(answer.outputs, dict) else {}
        text = answer.text or json.dumps(outputs, ensure_ascii=False)
        return {"content": [{"type": "text", "text": text}], "structuredContent": outputs, "isError": False}
    result: dict[str, Any] = {"content": [{"type": "text", "text": answer.text}], "isError": False}
    if kind.takes_query:
        result["structuredContent"] = {"answer": answer.text, "conversation_id": answer.conversation_id}
    return result


def error_result(message: str) -> dict[str, Any]:
    """A failed run is a tool result the model can read, not a protocol error."""
    return {"content": [{"type": "text", "text": message}], "isError": True}
