"""Every word the pages say is in every catalog: no page falls back to English without anyone noticing.

Two ways to find the words: reading the templates and the code (every ``t("…")`` with a literal, and the few
``t(…)`` of a value, each tied to where its values come from), and rendering every kind of page in every
language while recording each word asked for.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2 import nodes

from relay.core.apps import CHAT, KINDS, WORKFLOW
from relay.core.catalog import Catalog
from relay.core.errors import RelayError, unauthorized
from relay.core.parameters import AppParameters
from relay.native import handler as native_handler
from relay.native import responses
from relay.native.form import app_form, render_form_page
from relay.native.formats import PageInfo, render
from relay.native.pages import PAGES_DIR, environment, fragments, i18n
from relay.native.pages.i18n import CATALOGS, STATUS_WORDS
from relay.native.request import Format
from tests.unit.conftest import APP_ID

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in CATALOGS if language != "en"]

# The t(…) calls whose argument is not a literal, and where each one's values come from (checked below).
TEMPLATE_VALUES = {"status", "heading", "explanation", "link.text", "link.label"}
PYTHON_VALUES = {"info.kind.label.capitalize()", "kind.label.capitalize()"}


def app_form_of(parameters):
    return app_form(AppParameters.parse(parameters))


def template_calls() -> Iterator[nodes.Expr]:
    for path in sorted(PAGES_DIR.glob("*.html")):
        for call in environment.parse(path.read_text(encoding="utf-8")).find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == "t":
                yield call.args[0]


def expression(node: nodes.Expr) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{expression(node.node)}.{node.attr}"
    return type(node).__name__


def python_calls() -> Iterator[ast.Call]:
    for path in sorted((ROOT / "relay").rglob("*.py")):
        yield from (
            node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)
        )


def translates(call: ast.Call) -> bool:
    """``t(…)``, ``self.t(…)``, ``translator(language)(…)``."""
    function = call.func
    if isinstance(function, ast.Name | ast.Attribute):
        return (function.id if isinstance(function, ast.Name) else function.attr) == "t"
    return isinstance(function, ast.Call) and getattr(function.func, "id", None) == "translator"


def literal(node: ast.expr | nodes.Expr) -> str | None:
    if isinstance(node, ast.Constant | nodes.Const) and isinstance(node.value, str):
        return node.value
    return None


def words_in_the_sources() -> set[str]:
    words = {literal(arg) for arg in template_calls()} | {
        literal(call.args[0]) for call in python_calls() if translates(call) and call.args
    }
    # A link on an error page: error.html translates its sentence and label (t(link.text), t(link.label)).
    for call in python_calls():
        if getattr(call.func, "id", None) == "PageLink":
            words |= {literal(arg) for arg in call.args[:2]}
    return words - {None}


def words_of_values() -> set[str]:
    """Every value the non-literal calls can be given."""
    return (
        set(STATUS_WORDS)
        | {kind.label.capitalize() for kind in KINDS.values()}
        | set(responses._HEADINGS.values())
        | set(responses._HEADINGS_BY_CODE.values())
        | set(responses._EXPLANATIONS.values())
        | {"Something went wrong"}
        | set(native_handler._RIGHT_TYPE.values())
    )


def test_the_only_translated_values_are_the_known_ones():
    """A new ``t(value)`` must say here where its values come from, so that the test below can check them."""
    assert {expression(arg) for arg in template_calls() if literal(arg) is None} == TEMPLATE_VALUES
    assert {
        ast.unparse(call.args[0]) for call in python_calls() if translates(call) and literal(call.args[0]) is None
    } == PYTHON_VALUES


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_word_in_the_templates_and_the_code_is_translated(language):
    words = words_in_the_sources() | words_of_values()
    assert len(words) > 60  # the extraction found the pages' words
    missing = sorted(words - CATALOGS[language].keys())
    assert not missing, f"{language} lacks {missing}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_catalog_holds_a_word_the_pages_never_say(language):
    unused = sorted(CATALOGS[language].keys() - words_in_the_sources() - words_of_values())
    assert not unused, f"{language} translates words no page uses: {unused}"


class Recording(dict):
    """A catalog that remembers every word a page asked for."""

    def __init__(self, catalog: dict[str, str], asked: set[str]) -> None:
        super().__init__(catalog)
        self.asked = asked

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


@pytest.fixture
def asked(monkeypatch):
    words: set[str] = set()
    for language, words_of_language in CATALOGS.items():
        monkeypatch.setitem(i18n.CATALOGS, language, Recording(words_of_language, words))
    fragments.cache_clear()  # the macros hold the translator they were made with
    yield words
    monkeypatch.undo()
    fragments.cache_clear()


FILE = {"type": "document", "transfer_method": "remote_url", "url": "https://files.example/a.pdf"}
PARAMETERS = {
    "opening_statement": "Hi",
    "suggested_questions": ["What can you do?"],
    "user_input_form": [
        {"text-input": {"label": "Topic", "variable": "topic"}},
        {"json_object": {"label": "Config", "variable": "config"}},
    ],
}


def node(event: str, status: str | None = None) -> dict:
    return {"event": event, "data": {"id": f"n-{status}", "title": "Node", "node_type": "llm", "status": status}}


CHAT_EVENTS = [
    {"event": "agent_thought", "thought": "hm", "tool": "search", "tool_input": {"q": 1}, "observation": "ok"},
    {"event": "agent_thought", "thought": "just thinking"},
    {"event": "message", "answer": "**Hi**", "conversation_id": "c1"},
    {"event": "message_file", "type": "image", "url": "https://files.example/a.png"},
    {"event": "message_replace", "answer": "replaced"},
    {"event": "message_end", "metadata": {"usage": {"total_tokens": 3, "latency": 1.0, "total_price": "0.1"}}},
]
WORKFLOW_EVENTS = [
    node("node_started"),
    *(node("node_finished", status) for status in STATUS_WORDS),
    node("node_retry", "retry"),
    {"event": "iteration_started", "data": {"id": "it", "title": "Loop"}},
    {"event": "iteration_completed", "data": {"id": "it", "title": "Loop", "error": "x"}},
    {"event": "text_chunk", "data": {"text": "text"}},
    {"event": "text_replace", "data": {"text": "new text"}},
    {"event": "human_input_required", "data": {"form_title": "Review"}},
    {"event": "human_input_form_filled", "data": {}},
    {"event": "human_input_form_timeout", "data": {}},
    *({"event": "workflow_finished", "data": {"status": status, "outputs": {"a": "b"}}} for status in STATUS_WORDS),
    {"event": "workflow_paused", "data": {}},
    {"event": "error", "message": "boom"},
]
CHATFLOW_EVENTS = [
    {"event": "message", "answer": "partial", "conversation_id": "c1"},
    {"event": "workflow_finished", "data": {"status": "failed", "elapsed_time": 1.0, "total_tokens": 5}},
    {"event": "error", "message": "Run failed"},
]


def pages(language: str) -> Iterator[str]:
    form = app_form_of(PARAMETERS)
    carried = {"api_key": "k"}
    chat = PageInfo(CHAT, APP_ID, query="q", transcript=(("a", "b"),), carried=carried, language=language)
    chat_priced = PageInfo(CHAT, APP_ID, "q", language=language, show_cost=True)
    inputs = {"topic": "tea", "one": FILE, "many": [FILE, FILE]}
    workflow = PageInfo(WORKFLOW, APP_ID, inputs=inputs, form=form, carried=carried, language=language)
    for events, info in ((CHAT_EVENTS, chat), (CHAT_EVENTS, chat_priced), (CHATFLOW_EVENTS, chat)):
        yield b"".join(render(Format.HTML, iter(events), info)).decode()
    yield b"".join(render(Format.HTML, iter(WORKFLOW_EVENTS), workflow)).decode()
    for kind in KINDS.values():
        yield render_form_page(form, kind, Catalog.from_setting("*").resolve(APP_ID, kind), carried, language)


def errors() -> Iterator[RelayError]:
    yield unauthorized("no key")
    for status in (*responses._HEADINGS, 500):
        yield RelayError(status, "some_code", "message")
    for code in (*responses._HEADINGS_BY_CODE, *responses._EXPLANATIONS):
        yield RelayError(403, code, "message")
    for declared in KINDS.values():
        typed = Catalog.from_setting(f"{declared.name}:app={APP_ID}")
        for called in KINDS.values():
            if called is not declared:
                with pytest.raises(RelayError) as wrong_path:
                    typed.resolve("app", called)
                yield wrong_path.value


def test_every_word_asked_for_by_a_page_is_in_every_catalog(asked):
    for language in CATALOGS:
        for _ in pages(language):
            pass
        for error in errors():
            responses.error_response(error, Format.HTML, {}, language)
    assert {"succeeded", "({} files)", "(file)", "Input timed out", "Chat app", "API key"} <= asked
    for language in TRANSLATED:
        missing = sorted(asked - CATALOGS[language].keys())
        assert not missing, f"{language} lacks {missing}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translated_page_has_no_english_status_words(language):
    page = "".join(pages(language))
    for word in STATUS_WORDS:
        translated = CATALOGS[language][word]
        assert f">{word}<" not in page and f"· {word}<" not in page, word
        assert f">{translated}<" in page or f"· {translated}<" in page, word
    assert "(file)" not in page and "(2 files)" not in page
    assert CATALOGS[language]["({} files)"].format(2) in page
