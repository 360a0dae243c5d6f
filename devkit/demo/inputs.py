"""An app's input form as Dify describes it (``user_input_form``), and Dify's checks of the inputs sent to it.

``fetch_app`` returns the form as a list of single-key dicts, ``{"text-input": {...}}``, ``{"select": {...}}`` and
so on; the relay builds its browser form from that. When an app is run, Dify checks the inputs against the same
form before anything streams and refuses bad ones with a plain sentence. ``validate_inputs`` is a restatement of
``BaseAppGenerator._validate_inputs`` and ``_prepare_user_inputs`` (langgenius/dify,
``api/core/app/apps/base_app_generator.py``), message for message:

* only a *missing* value (``None``) of a required field fails, "<var> is required in input form"; ``""`` passes;
* a missing optional value takes the field's default, which is then checked like a sent value;
* text-input, paragraph and select values must be strings: "(type 'text-input') <var> in input form must be a
  string";
* numbers accept ints and floats (booleans too: they are ints in Python), and strings that parse ("." makes a
  float); a blank string counts as missing, even for a required field; anything else is a ``TypeError``, which
  Dify does not catch as a refusal: the call gets its generic HTTP 500 (``DifyServerError`` here);
* checkboxes never fail: "true"/"1"/"yes"/"on" and 1 become True, "false"/"0"/"no"/"off" and 0 become False,
  anything else is kept as sent;
* then a dict left in a field that is not a file (or a list holding dicts) is "Invalid input type for [...]";
* NUL characters are removed from strings, and inputs the form does not declare are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devkit.daemon.process import DifyError, DifyServerError

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_STRING_KINDS = frozenset({"text-input", "select", "paragraph"})


@dataclass(frozen=True)
class Field:
    """One input variable of an app."""

    kind: str
    """Dify's variable type: text-input, paragraph, select, number or checkbox."""
    variable: str
    label: str
    required: bool = False
    default: Any = None
    max_length: int | None = None
    options: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()
    """For file inputs: Dify's ``allowed_file_types`` (image, document, audio, video, custom)."""
    file_extensions: tuple[str, ...] = ()
    """For file inputs whose types include ``custom``: the extensions allowed (``.txt``...)."""

    @property
    def form_default(self) -> Any:
        """The default the form carries, and so the one Dify runs with: the studio saves ``""`` (``False`` for a
        checkbox) when none was chosen."""
        if self.default is not None:
            return self.default
        return False if self.kind == "checkbox" else ""

    def describe(self, *, with_type: bool) -> dict[str, Any]:
        """This field as one ``user_input_form`` entry.

        Workflow-based apps (workflow, chatflow) repeat the ``type`` inside the entry; apps configured with a
        model config (chatbot, agent, completion) do not.
        """
        body: dict[str, Any] = {"label": self.label, "variable": self.variable, "required": self.required}
        if with_type:
            body["type"] = self.kind
        if self.kind in ("text-input", "paragraph"):
            body["max_length"] = self.max_length
        if self.kind == "select":
            body["options"] = list(self.options)
        if self.kind in ("file", "file-list"):
            body["allowed_file_types"] = list(self.file_types)
            body["allowed_file_extensions"] = list(self.file_extensions)
            body["allowed_file_upload_methods"] = ["local_file", "remote_url"]
            if self.kind == "file-list":
                body["max_length"] = self.max_length
            return {self.kind: body}
        body["default"] = self.form_default
        return {self.kind: body}


def user_input_form(fields: tuple[Field, ...], *, with_type: bool) -> list[dict[str, Any]]:
    return [field.describe(with_type=with_type) for field in fields]


def validate_inputs(fields: tuple[Field, ...], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs Dify would run the app with: checked, converted, defaults filled in, undeclared ones dropped.

    Raises ``DifyError`` (Dify's HTTP 400) with Dify's sentence for the first bad input, in form order, or
    ``DifyServerError`` (HTTP 500) where Dify itself fails with a ``TypeError``.
    """
    checked = {field.variable: _sanitized(_validated(field, inputs.get(field.variable))) for field in fields}
    kinds = {field.variable: field.kind for field in fields}
    # Files are left out of these demo forms, so no dict may remain in any field.
    dicts = [name for name, value in checked.items() if isinstance(value, dict) and kinds[name] != "file"]
    if dicts:
        raise DifyError(f"Invalid input type for {dicts}")
    lists = [
        name
        for name, value in checked.items()
        if isinstance(value, list) and any(isinstance(item, dict) for item in value) and kinds[name] != "file-list"
    ]
    if lists:
        raise DifyError(f"Invalid input type for {lists}")
    return checked


def _validated(field: Field, value: Any) -> Any:
    name = field.variable
    if field.kind in ("file", "file-list") and value is None and not field.required:
        return None  # an optional file that was not sent
    if value is None:
        if field.required:
            raise DifyError(f"{name} is required in input form")
        value = field.form_default
        if value is None:
            return None
    if field.kind == "file":
        return _file(name, value)
    if field.kind == "file-list":
        if not isinstance(value, list):
            raise DifyError(f"{name} in input form must be a list of files")
        return [_file(name, item) for item in value]
    if field.kind in _STRING_KINDS and not isinstance(value, str):
        raise DifyError(f"(type '{field.kind}') {name} in input form must be a string")
    if field.kind == "number":
        return _number(name, value)
    if field.kind == "select" and value not in field.options:
        raise DifyError(f"{name} in input form must be one of the following: {list(field.options)}")
    if field.kind in ("text-input", "paragraph") and field.max_length and len(value) > field.max_length:
        raise DifyError(f"{name} in input form must be less than {field.max_length} characters")
    if field.kind == "checkbox":
        return _checkbox(value)
    return value


def _file(name: str, value: Any) -> Any:
    """A file input's value as the plugin sends it: a mapping Dify turns into a file (``file_factory``)."""
    if not isinstance(value, Mapping) or value.get("transfer_method") not in ("tool_file", "local_file", "remote_url"):
        raise DifyError(f"{name} in input form must be a file")
    if value["transfer_method"] == "remote_url" and not value.get("url"):
        raise DifyError("Invalid file url")
    return dict(value)


def _number(name: str, value: Any) -> Any:
    if isinstance(value, int | float):  # bool included, as in Dify
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            raise DifyError(f"{name} in input form must be a valid number") from None
    raise DifyServerError(f"expected value type int, float or str, got {type(value)}, value: {value}")


def _checkbox(value: Any) -> Any:
    if isinstance(value, str):
        normalized = value.strip().lower()
        if normalized in _TRUE:
            return True
        if normalized in _FALSE:
            return False
    elif isinstance(value, int | float):
        if value == 1:
            return True
        if value == 0:
            return False
    return value


def _sanitized(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value
