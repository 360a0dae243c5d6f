"""An app's input form as Dify describes it (``user_input_form``), and Dify's checks of the inputs sent to it.

``fetch_app`` returns the form as a list of single-key dicts, ``{"text-input": {...}}``, ``{"select": {...}}`` and
so on; the relay builds its browser form from that. When an app is run, Dify checks the inputs against the same
form before anything streams, and refuses bad ones with a plain sentence (modelled on Dify's
``BaseAppGenerator._validate_inputs``), e.g. "topic is required in input form". Demo apps do the same, so a
tester sees those refusals travel through the relay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devkit.daemon.process import DifyError


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
        body["default"] = self.default if self.default is not None else ("" if self.kind != "checkbox" else False)
        return {self.kind: body}


def user_input_form(fields: tuple[Field, ...], *, with_type: bool) -> list[dict[str, Any]]:
    return [field.describe(with_type=with_type) for field in fields]


def validate_inputs(fields: tuple[Field, ...], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs Dify would run the app with: checked, converted (numbers from strings), defaults filled in.

    Raises ``DifyError`` with Dify's sentence for the first bad input. Inputs the form does not declare are
    dropped, as Dify drops them.
    """
    checked: dict[str, Any] = {}
    for field in fields:
        value = inputs.get(field.variable)
        if value is None or value == "":
            if field.required:
                raise DifyError(f"{field.variable} is required in input form")
            checked[field.variable] = field.default
            continue
        checked[field.variable] = _checked_value(field, value)
    return checked


def _checked_value(field: Field, value: Any) -> Any:
    name = field.variable
    if field.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise DifyError(f"{name} in input form must be a valid number")
        if isinstance(value, str):
            try:
                return float(value) if "." in value else int(value)
            except ValueError:
                raise DifyError(f"{name} in input form must be a valid number") from None
        return value
    if field.kind == "checkbox":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "on", "1", "yes", "false", "off", "0", "no"):
            return value.strip().lower() in ("true", "on", "1", "yes")
        raise DifyError(f"{name} in input form must be a valid boolean value")
    if not isinstance(value, str):
        raise DifyError(f"{name} in input form must be a string")
    if field.kind == "select" and value not in field.options:
        raise DifyError(f"{name} in input form must be one of the following: {list(field.options)}")
    if field.max_length is not None and len(value) > field.max_length:
        raise DifyError(f"{name} in input form must be less than {field.max_length} characters")
    return value
