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
        properties["query"] = dict(QUERY_SCHEMA)
        properties["conversation_id"] = dict(CONVERSATION_SCHEMA)
        required.append("query")
    for entry in form if isinstance(form, list) else []:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        ((control, spec),) = entry.items()
        if not isinstance(spec, dict) or not isinstance(spec.get("variable"), str) or spec.get("hide"):
            continue
        variable = spec["variable"]
        if variable in properties:
            continue  # a form cannot shadow query or conversation_id, nor name an input twice
        prop = _property(control, spec)
        if prop is None:
            continue
        properties[variable] = prop
        if spec.get("required") is True:
            required.append(variable)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _property(control: Any, spec: dict[str, Any]) -> dict[str, Any] | None:
    prop = _typed(control, spec)
    if prop is None:
        return None  # external data tools, and anything newer than this plugin: not offered rather than guessed
    # The label first, then the description newer Dify forms have, then what the type itself asks for.
    description = _joined(spec.get("label"), spec.get("description"), prop.pop("description", None))
    if description:
        prop["description"] = description
    default = spec.get("default")
    if default not in (None, "") and _fits(control, prop, default):
        prop["default"] = default
    return prop


def _typed(control: Any, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON type (and its constraints) that Dify accepts for one kind of input."""
    if control in _STRINGS:
        prop: dict[str, Any] = {"type": "string"}
        if control == "select" and isinstance(spec.get("options"), list):
            prop["enum"] = [str(option) for option in spec["options"]]
        if _positive(spec.get("max_length")):
            prop["maxLength"] = spec["max_length"]
        return prop
    if control == "number":
        # Dify takes ints, floats and numeric strings; its forms carry no bounds for numbers.
        return {"type": "number"}
    if control == "checkbox":
        return {"type": "boolean"}
    if control == "json_object":
        return _object(spec.get("json_schema"))
    if control == "file":
        return copy.deepcopy(FILE_SCHEMA)
    if control == "file-list":
        prop = {"type": "array", "items": copy.deepcopy(FILE_SCHEMA)}
        if _positive(spec.get("max_length")):
            prop["maxItems"] = spec["max_length"]
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


def _positive(value: Any) -> bool:
    return type(value) is int and value > 0
