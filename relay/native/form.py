"""The browser form: the app's parameters (from ``session.app.fetch_app``) as an HTML form.

It is what a person sees when they open an endpoint URL in a browser without saying anything to the
app yet. It submits back to the same URL (POST, so an api key never lands in a URL) and works with
JavaScript off: the answer is the streamed HTML page.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relay.core.apps import AppKind
from relay.core.catalog import App
from relay.core.files import FILE_CONTROLS
from relay.native.formats.markdown import render_markdown
from relay.native.pages import app_title, page_title, render_page
from relay.native.pages.i18n import translator

# Dify's user_input_form entries this form can show, and the HTML control for each.
_CONTROLS = {
    "text-input": "text",
    "paragraph": "textarea",
    "select": "select",
    "number": "number",
    "checkbox": "checkbox",
    "file": "file",
    "file-list": "file",
}
# What a file field's ``accept`` says for each of Dify's kinds of file.
_ACCEPT = {"image": "image/*", "audio": "audio/*", "video": "video/*"}


@dataclass(frozen=True)
class FormField:
    control: str
    variable: str
    label: str
    required: bool = False
    default: str = ""
    max_length: int | None = None
    options: tuple[str, ...] = ()
    accept: str = ""
    """For a file field: the browser's file picker filter (``image/*,.pdf``...)."""
    multiple: bool = False


@dataclass(frozen=True)
class AppForm:
    fields: list[FormField]
    opening_statement: str = ""
    suggested_questions: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    """Labels of inputs the form cannot offer: the page says so instead of hiding them."""

    @property
    def has_files(self) -> bool:
        """A form with a file field must post as multipart."""
        return any(item.control == "file" for item in self.fields)


def app_form(parameters: Mapping[str, Any]) -> AppForm:
    fields: list[FormField] = []
    unsupported: list[str] = []
    for entry in _list(parameters.get("user_input_form")):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            continue
        ((kind, spec),) = entry.items()
        if not isinstance(spec, Mapping) or not spec.get("variable"):
            continue
        label = str(spec.get("label") or spec["variable"])
        if spec.get("hide"):
            continue
        if kind not in _CONTROLS:
            unsupported.append(label)
            continue
        max_length = spec.get("max_length")
        if kind in FILE_CONTROLS:
            fields.append(
                FormField(
                    control="file",
                    variable=str(spec["variable"]),
                    label=label,
                    required=bool(spec.get("required")),
                    accept=_accept(spec),
                    multiple=kind == "file-list",
                )
            )
            continue
        fields.append(
            FormField(
                control=_CONTROLS[kind],
                variable=str(spec["variable"]),
                label=label,
                required=bool(spec.get("required")),
                default="" if spec.get("default") is None else str(spec.get("default")),
                max_length=max_length if type(max_length) is int and max_length > 0 else None,
                options=tuple(str(option) for option in _list(spec.get("options"))),
            )
        )
    questions = [str(q) for q in _list(parameters.get("suggested_questions")) if str(q).strip()]
    return AppForm(
        fields=fields,
        opening_statement=str(parameters.get("opening_statement") or ""),
        suggested_questions=questions,
        unsupported=unsupported,
    )


def _accept(spec: Mapping[str, Any]) -> str:
    """The file picker's filter from the input's allowed types and extensions; empty (anything) for documents."""
    types = _list(spec.get("allowed_file_types"))
    if not types or "document" in types:
        return ""
    accepted = [_ACCEPT[kind] for kind in types if kind in _ACCEPT]
    if "custom" in types:
        accepted += [str(ext) for ext in _list(spec.get("allowed_file_extensions"))]
    return ",".join(accepted)


def _list(value: Any) -> list[Any]:
    """A list Dify sent, or nothing: a form is built from what makes sense and ignores the rest."""
    return value if isinstance(value, list) else []


def render_form_page(form: AppForm, kind: AppKind, app: App, carried: Mapping[str, str], language: str = "en") -> str:
    """The whole form page. ``carried`` are hidden fields to send on (the api key a person typed)."""
    kind_label = translator(language)(kind.label.capitalize())
    return render_page(
        "form.html",
        language,
        form=form,
        values={},
        kind=kind.name,
        takes_query=kind.takes_query,
        app_title=app_title(app.name, app.app_id),
        kind_label=kind_label,
        opening_html=render_markdown(form.opening_statement),
        title=page_title(app.name, app.app_id, kind_label),
        carried=carried,
    )
