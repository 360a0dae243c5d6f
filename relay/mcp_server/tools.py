"""Apps as MCP tools: a tool's name, description and input schema, from the app's entry and its form.

The schema comes from the app's ``user_input_form`` (``session.app.fetch_app``): one property per input the form
shows, with its JSON type, whether it is required, its options (``enum``), its length, its default and its label
as the description. Chat-type apps also take the ``query`` (required) and may take a ``conversation_id`` to go on
with. Dify's forms give numbers no bounds, and say nothing of a workflow's outputs, so there is no
``outputSchema``.
"""

import copy
import json
from typing import Any

from relay.core.apps import CHAT, AppKind
from relay.core.catalog import App
from relay.core.parameters import AppParameters, InputField

_STRINGS = frozenset({"text-input", "paragraph", "select"})
_REFERENCES = frozenset({"$ref", "$dynamicRef", "$recursiveRef"})
MAX_EMBEDDED_SCHEMA_BYTES = 64 * 1024
"""A ``json_object`` input's own schema is passed on up to this size; a larger one becomes a plain object."""

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
QUERY_SCHEMA: dict[str, Any] = {"type": "string", "description": "The message to the app."}
CONVERSATION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": "Go on with an earlier conversation: the conversation_id a previous call returned.",
}


def tool_kind(app: App) -> AppKind:
    """The kind of app a tool runs: what its ``allowed_apps`` entry declares, chat when it declares none."""
    return app.kind or CHAT


def describe(app: App, parameters: AppParameters) -> dict[str, Any]:
    """The tool definition ``tools/list`` gives for an app."""
    kind = tool_kind(app)
    opening = parameters.opening_statement.strip()
    return {
        "name": app.name,
        "title": app.name,
        "description": opening or f"Dify {kind.label} {app.name}.",
        "inputSchema": input_schema(kind, parameters.inputs),
    }


def input_schema(kind: AppKind, inputs: tuple[InputField, ...]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    if kind.takes_query:
        properties["query"] = dict(QUERY_SCHEMA)
        properties["conversation_id"] = dict(CONVERSATION_SCHEMA)
        required.append("query")
    for item in inputs:
        if item.hidden or item.variable in properties:
            continue  # a form cannot shadow query or conversation_id
        prop = _property(item)
        if prop is None:
            continue
        properties[item.variable] = prop
        if item.required:
            required.append(item.variable)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _property(item: InputField) -> dict[str, Any] | None:
    prop = _typed(item)
    if prop is None:
        return None  # external data tools, and anything newer than this plugin: not offered rather than guessed
    # The label first, then the description newer Dify forms have, then what the type itself asks for.
    label = item.label if item.label != item.variable else None
    description = _joined(label, item.description, prop.pop("description", None))
    if description:
        prop["description"] = description
    if item.default not in (None, "") and _fits(item.control, prop, item.default):
        prop["default"] = item.default
    return prop


def _typed(item: InputField) -> dict[str, Any] | None:
    """The JSON type (and its constraints) that Dify accepts for one kind of input."""
    control = item.control
    if control in _STRINGS:
        prop: dict[str, Any] = {"type": "string"}
        if control == "select" and item.options:
            prop["enum"] = list(item.options)
        if item.max_length is not None:
            prop["maxLength"] = item.max_length
        return prop
    if control == "number":
        # Dify takes ints, floats and numeric strings; its forms carry no bounds for numbers.
        return {"type": "number"}
    if control == "checkbox":
        return {"type": "boolean"}
    if control == "json_object":
        return _object(item.json_schema)
    if control == "file":
        return copy.deepcopy(FILE_SCHEMA)
    if control == "file-list":
        prop = {"type": "array", "items": copy.deepcopy(FILE_SCHEMA)}
        if item.max_length is not None:
            prop["maxItems"] = item.max_length
        return prop
    return None


def _object(json_schema: Any) -> dict[str, Any]:
    """A ``json_object`` input: Dify takes any JSON object; the app's own schema for it, when it is a
    self-contained object schema, tells the model which one."""
    if isinstance(json_schema, str):
        try:
            json_schema = json.loads(json_schema)
        except (ValueError, RecursionError):
            return {"type": "object"}
    if not _is_object_schema(json_schema):
        return {"type": "object"}
    # Embedded in the tool's schema, it is no longer a document of its own: its dialect and id no longer apply.
    return {key: value for key, value in json_schema.items() if key not in ("$schema", "$id")}


def _is_object_schema(schema: Any) -> bool:
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return False
    if not isinstance(schema.get("properties", {}), dict):
        return False
    try:
        text = json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    # A "$ref" points into the document it was written in; moved into the tool's schema, it would point elsewhere.
    return len(text.encode()) <= MAX_EMBEDDED_SCHEMA_BYTES and not _has_reference(schema)


def _has_reference(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if _REFERENCES & item.keys():
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _joined(*parts: Any) -> str:
    texts = [part.strip() for part in parts if isinstance(part, str) and part.strip()]
    return ". ".join([text.rstrip(".") for text in texts[:-1]] + texts[-1:])


def _fits(control: Any, prop: dict[str, Any], value: Any) -> bool:
    """Whether a form's default is a valid value of the property (Dify saves ``""`` and stray types too); files
    have none a client could send back."""
    if control in _STRINGS:
        return isinstance(value, str) and ("enum" not in prop or value in prop["enum"])
    if control == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if control == "checkbox":
        return isinstance(value, bool)
    if control == "json_object":
        return isinstance(value, dict)
    return False
