"""An app's parameters, as ``session.app.fetch_app`` gives them, read once into one model.

Dify describes an app's inputs in ``user_input_form``: a list of one-key objects, the key naming the control
(``text-input``, ``paragraph``, ``select``, ``number``, ``checkbox``, ``file``, ``file-list``, ``json_object``, and
controls newer than this plugin), the value its settings (``variable``, ``label``, ``required``, ``options``,
``max_length``, ``default``, ``hide``, the file rules...). Whatever uses an app's inputs (the form page, the file
checks, the mapping of a chat message to a workflow input, the MCP tool schemas) reads them from here.

Dify saves forms loosely (``""`` defaults, stray types), and an app's author writes them: anything that does not
make sense is left out rather than guessed, and nothing here raises.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEXT_CONTROLS = ("text-input", "paragraph")
FILE_CONTROLS = ("file", "file-list")


@dataclass(frozen=True)
class InputField:
    """One input of an app's form."""

    variable: str
    control: str
    """Dify's name for the control: ``text-input``, ``select``, ``file-list``..."""
    label: str
    required: bool = False
    hidden: bool = False
    """Set by the app's author: not shown to people, still sent when given."""
    default: Any = None
    description: str = ""
    options: tuple[str, ...] = ()
    max_length: int | None = None
    """Characters of a text, or files of a file list."""
    file_types: tuple[str, ...] = ()
    """Dify's kinds of file the input takes (``image``, ``document``, ``audio``, ``video``, ``custom``)."""
    file_extensions: tuple[str, ...] = ()
    """Extensions (``.md``, lower case) a ``custom`` file input takes."""
    json_schema: Any = None
    """A ``json_object`` input's own schema, as the app's author wrote it (a dict or its JSON text)."""

    @property
    def is_text(self) -> bool:
        return self.control in TEXT_CONTROLS

    @property
    def is_file(self) -> bool:
        return self.control in FILE_CONTROLS

    @property
    def many(self) -> bool:
        """Whether the input takes a list of files."""
        return self.control == "file-list"

    @property
    def max_files(self) -> int | None:
        if not self.is_file:
            return None
        return self.max_length if self.many else 1

    def described(self) -> str:
        """How a message lists it: ``name (text-input, required)``."""
        return f"{self.variable} ({self.control}{', required' if self.required else ''})"


@dataclass(frozen=True)
class AppParameters:
    """What an app says about itself to a caller: its inputs and its opening words."""

    inputs: tuple[InputField, ...] = ()
    opening_statement: str = ""
    suggested_questions: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> "AppParameters":
        raw = raw if isinstance(raw, Mapping) else {}
        opening = raw.get("opening_statement")
        questions = raw.get("suggested_questions")
        return cls(
            inputs=tuple(_inputs(raw.get("user_input_form"))),
            opening_statement=opening if isinstance(opening, str) else "",
            suggested_questions=tuple(str(item) for item in _list(questions) if str(item).strip()),
        )

    def input(self, variable: str) -> InputField | None:
        return next((item for item in self.inputs if item.variable == variable), None)

    def file_inputs(self) -> dict[str, InputField]:
        """The file inputs, by variable."""
        return {item.variable: item for item in self.inputs if item.is_file}

    def text_inputs(self) -> tuple[InputField, ...]:
        return tuple(item for item in self.inputs if item.is_text)


def _inputs(form: Any) -> list[InputField]:
    found: list[InputField] = []
    seen: set[str] = set()
    for entry in _list(form):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            continue
        ((control, spec),) = entry.items()
        if not isinstance(spec, Mapping) or not isinstance(spec.get("variable"), str) or not spec["variable"]:
            continue
        variable = spec["variable"]
        if variable in seen:
            continue  # a form cannot name one input twice: the first one stands
        seen.add(variable)
        found.append(_field(str(control), variable, spec))
    return found


def _field(control: str, variable: str, spec: Mapping[str, Any]) -> InputField:
    label = spec.get("label")
    description = spec.get("description")
    limit = spec.get("max_length")
    return InputField(
        variable=variable,
        control=control,
        label=label.strip() if isinstance(label, str) and label.strip() else variable,
        required=spec.get("required") is True,
        hidden=bool(spec.get("hide")),
        default=spec.get("default"),
        description=description if isinstance(description, str) else "",
        options=tuple(str(option) for option in _list(spec.get("options"))),
        max_length=limit if type(limit) is int and limit > 0 else None,
        file_types=tuple(str(kind) for kind in _list(spec.get("allowed_file_types"))),
        file_extensions=tuple(str(ext).lower() for ext in _list(spec.get("allowed_file_extensions"))),
        json_schema=spec.get("json_schema"),
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
