"""The browser form: the app's parameters (from ``session.app.fetch_app``) as an HTML form.

It is what a person sees when they open an endpoint URL in a browser without saying anything to the
app yet. It submits back to the same URL (POST, so an api key never lands in a URL) and works with
JavaScript off: the answer is the streamed HTML page.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from relay.core.apps import AppKind
from relay.core.catalog import App
from relay.core.parameters import AppParameters, InputField
from relay.native.formats.markdown import render_markdown
from relay.native.limits import MAX_OPENING_STATEMENT_CHARS, MAX_SUGGESTED_QUESTION_CHARS, MAX_SUGGESTED_QUESTIONS
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


def app_form(parameters: AppParameters) -> AppForm:
    """The form a person fills in, from the app's parameters: every input it can show, and the others named."""
    fields: list[FormField] = []
    unsupported: list[str] = []
    for item in parameters.inputs:
        if item.hidden:
            continue
        if item.control not in _CONTROLS:
            unsupported.append(item.label)
            continue
        if item.is_file:
            fields.append(
                FormField(
                    control="file",
                    variable=item.variable,
                    label=item.label,
                    required=item.required,
                    accept=_accept(item),
                    multiple=item.many,
                )
            )
            continue
        fields.append(
            FormField(
                control=_CONTROLS[item.control],
                variable=item.variable,
                label=item.label,
                required=item.required,
                default="" if item.default is None else str(item.default),
                max_length=item.max_length,
                options=item.options,
            )
        )
    return AppForm(
        fields=fields,
        opening_statement=parameters.opening_statement,
        suggested_questions=list(parameters.suggested_questions),
        unsupported=unsupported,
    )


def _accept(item: InputField) -> str:
    """The file picker's filter from the input's allowed types and extensions; empty (anything) for documents."""
    types = item.file_types
    if not types or "document" in types:
        return ""
    accepted = [_ACCEPT[kind] for kind in types if kind in _ACCEPT]
    if "custom" in types:
        accepted += list(item.file_extensions)
    return ",".join(accepted)


def render_form_page(form: AppForm, kind: AppKind, app: App, carried: Mapping[str, str], language: str = "en") -> str:
    """The whole form page. ``carried`` are hidden fields to send on (the api key a person typed)."""
    form = _shown(form)
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


def _shown(form: AppForm) -> AppForm:
    """``form`` as the page shows it: its opening statement and suggested questions within ``relay.native.limits``
    (the page is rendered for every person who opens it; the app's settings may hold anything)."""
    statement = form.opening_statement
    if len(statement) > MAX_OPENING_STATEMENT_CHARS:
        statement = statement[:MAX_OPENING_STATEMENT_CHARS] + "…"
    questions = [question for question in form.suggested_questions if len(question) <= MAX_SUGGESTED_QUESTION_CHARS]
    return replace(form, opening_statement=statement, suggested_questions=questions[:MAX_SUGGESTED_QUESTIONS])
