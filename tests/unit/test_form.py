"""The browser form: built from the app's parameters, submitted back by POST, key carried, never in a URL."""

import re

import relay
import relay.native
from relay.core.catalog import App
from relay.core.parameters import AppParameters
from relay.native.form import app_form, render_form_page
from tests.unit.conftest import APP_ID, CHAT_EVENTS, FakeSession, make_request, serving, stream_of

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
XSS = "<img src=x onerror=alert(1)>"
PARAMETERS = {
    "opening_statement": f"Hi! {XSS}",
    "suggested_questions": ["What can you do?", XSS],
    "user_input_form": [
        {"text-input": {"label": "Name", "variable": "name", "required": True, "max_length": 48, "default": ""}},
        {"paragraph": {"label": "Notes", "variable": "notes", "required": False}},
        {
            "select": {
                "label": "Tone",
                "variable": "tone",
                "required": True,
                "options": ["calm", "bold"],
                "default": "bold",
            }
        },
        {"number": {"label": "Count", "variable": "count", "required": False, "default": 3}},
        {"checkbox": {"label": "Short", "variable": "short", "required": False}},
        {"file": {"label": "Photo", "variable": "photo", "required": False, "allowed_file_types": ["image"]}},
        {
            "file-list": {
                "label": "Papers",
                "variable": "papers",
                "allowed_file_types": ["custom"],
                "allowed_file_extensions": [".pdf", ".txt"],
            }
        },
        {"paragraph": {"label": "Hidden", "variable": "hidden", "hide": True}},
        {"json_object": {"label": "Config", "variable": "config"}},
    ],
}


def app_form_of(parameters):
    return app_form(AppParameters.parse(parameters))


def answer(session, request, settings=None, kind=relay.CHAT):
    response = relay.native.serve(session, request, {"app_id": APP_ID}, serving(**(settings or {})), kind)
    return response, b"".join(response.response).decode()


def test_user_input_form_maps_to_controls():
    form = app_form_of(PARAMETERS)
    assert [(f.control, f.variable) for f in form.fields] == [
        ("text", "name"),
        ("textarea", "notes"),
        ("select", "tone"),
        ("number", "count"),
        ("checkbox", "short"),
        ("file", "photo"),
        ("file", "papers"),
    ]
    assert form.fields[0].max_length == 48 and form.fields[0].required
    assert form.fields[2].options == ("calm", "bold")
    assert (form.fields[5].accept, form.fields[5].multiple) == ("image/*", False)
    assert (form.fields[6].accept, form.fields[6].multiple) == (".pdf,.txt", True)
    assert form.has_files
    assert form.unsupported == ["Config"]


def test_bare_browser_get_shows_the_form_without_calling_the_app():
    session = FakeSession(stream_of(*CHAT_EVENTS), PARAMETERS)
    response, page = answer(session, make_request(headers=BROWSER))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert session.app.calls == [("fetch_app", {"app_id": APP_ID})]
    # A chat form posts to the same URL and opens the answer page at the newest question.
    assert '<form class="card app-form" method="post" action="#latest"' in page
    for name in ("inputs.name", "inputs.notes", "inputs.tone", "inputs.count", "inputs.short", "query"):
        assert f'name="{name}"' in page
    assert 'value="What can you do?"' in page
    assert "<option selected>bold</option>" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Photo" in page  # unsupported inputs are named, not silently dropped


def test_workflow_form_marks_its_submission_with_empty_inputs():
    session = FakeSession(stream_of({"event": "workflow_started"}), PARAMETERS)
    _, page = answer(session, make_request(path=f"/workflow/{APP_ID}", headers=BROWSER), kind=relay.WORKFLOW)
    assert '<input type="hidden" name="inputs" value="{}">' in page
    assert 'name="query"' not in page


def test_form_submission_streams_the_answer_page_with_a_follow_up_form():
    session = FakeSession(stream_of(*CHAT_EVENTS), PARAMETERS)
    request = make_request(method="POST", headers=BROWSER, data={"query": "hello", "inputs.name": "Ann"})
    response, page = answer(session, request)
    assert response.status_code == 200
    assert session.app.calls[0][1]["inputs"] == {"name": "Ann"}
    assert "Hello" in page
    assert '<input type="hidden" name="conversation_id" value="c1">' in page


def test_fetch_app_errors_become_pages():
    missing = FakeSession(stream_of(), Exception("fetch app failed: request failed: app not found"))
    response, page = answer(missing, make_request(headers=BROWSER))
    assert response.status_code == 404 and "app not found" in page


def test_401_page_offers_a_key_field_and_the_key_is_carried_in_post_bodies_only():
    session = FakeSession(stream_of(*CHAT_EVENTS), PARAMETERS)
    settings = {"api_key": "k-123"}
    denied, page = answer(session, make_request(headers=BROWSER), settings)
    assert denied.status_code == 401
    assert re.search(r'<form[^>]*method="post"', page) and 'name="api_key"' in page and 'type="password"' in page

    form, page = answer(session, make_request(method="POST", headers=BROWSER, data={"api_key": "k-123"}), settings)
    assert form.status_code == 200
    assert '<input type="hidden" name="api_key" value="k-123">' in page
    assert 'action="#latest"' in page and "?api_key" not in page

    streamed, page = answer(
        session, make_request(method="POST", headers=BROWSER, data={"api_key": "k-123", "query": "hi"}), settings
    )
    assert streamed.status_code == 200
    assert '<input type="hidden" name="api_key" value="k-123">' in page  # the follow-up form keeps it


def test_a_key_sent_in_a_header_is_not_copied_into_pages():
    session = FakeSession(stream_of(*CHAT_EVENTS), PARAMETERS)
    _, page = answer(session, make_request(headers=BROWSER | {"X-API-Key": "k-123"}), {"api_key": "k-123"})
    assert "k-123" not in page


def test_parameters_of_the_wrong_types_give_a_form_of_what_makes_sense():
    # Found by make fuzz: suggested_questions as a boolean made the form page a 500.
    form = app_form_of(
        {
            "suggested_questions": True,
            "user_input_form": {"not": "a list"},
            "opening_statement": ["odd"],
        }
    )
    assert form.fields == [] and form.suggested_questions == []
    odd_field = app_form_of(
        {"user_input_form": [{"select": {"variable": "v", "options": "abc", "max_length": True}}, "junk", {}]}
    )
    assert [(f.variable, f.options, f.max_length) for f in odd_field.fields] == [("v", (), None)]


def test_the_form_page_names_the_app_or_its_short_id_in_the_readers_language():
    form = app_form_of(PARAMETERS)
    named = render_form_page(form, relay.WORKFLOW, App(APP_ID, "outline"), {}, "ja_JP")
    assert "<h1>outline</h1>" in named and "<title>outline · ワークフローアプリ</title>" in named
    short = APP_ID.split("-")[0]
    unnamed = render_form_page(form, relay.CHAT, App(APP_ID), {}, "en")
    assert f"<h1>{short}</h1>" in unnamed and f"<title>{short} · Chat app</title>" in unnamed
    assert '<button type="submit" class="primary">Send</button>' in unnamed
    assert '<button type="submit" class="primary">実行</button>' in named
