"""The streamed HTML page: structure, escaping, and how each kind of event shows."""

import base64
import hashlib
import re

import pytest

from relay.core.apps import CHAT, COMPLETION, WORKFLOW
from relay.core.errors import app_not_found
from relay.native.formats import PageInfo, render
from relay.native.formats.html.values import safe_url
from relay.native.pages import CONTENT_SECURITY_POLICY, STYLESHEET
from relay.native.request import Format
from relay.native.responses import error_response
from tests.unit.conftest import APP_ID

XSS = "<img src=x onerror=alert(1)>"


def page(events, kind=CHAT, query=None):
    return b"".join(render(Format.HTML, iter(events), PageInfo(kind, APP_ID, query))).decode()


def test_page_is_complete_and_the_answer_accumulates():
    chunks = list(
        render(
            Format.HTML,
            iter([{"event": "message", "answer": "Hel"}, {"event": "message", "answer": "lo"}]),
            PageInfo(CHAT, APP_ID, "hi"),
        )
    )
    text = b"".join(chunks).decode()
    assert text.startswith("<!doctype html>")
    assert text.rstrip().endswith("</html>")
    assert len(chunks) >= 4  # head, question, one piece per delta, tail: the page grows per event
    assert re.search(r'<span class="md-raw">Hel(</?[^>]*>)*lo</span>', text)  # streamed as it came
    assert '<div class="md-final"><p>Hello</p>' in text  # then rendered whole


def test_app_text_is_escaped_everywhere():
    events = [
        {"event": "message", "answer": XSS},
        {"event": "agent_thought", "thought": XSS, "tool": XSS, "tool_input": XSS, "observation": XSS},
        {"event": "message_replace", "answer": XSS},
        {"event": "node_started", "data": {"title": XSS, "node_type": XSS}},
        {"event": "node_finished", "data": {"title": XSS, "node_type": "llm", "status": XSS, "error": XSS}},
        {"event": "text_chunk", "data": {"text": XSS}},
        {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {XSS: XSS, "n": [XSS]}}},
        {"event": "error", "message": XSS},
    ]
    text = page(events, query=XSS)
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_only_web_links_are_shown_for_files():
    text = page(
        [
            {"event": "message_file", "type": "image", "url": "https://files.example/cat.png"},
            {"event": "message_file", "type": "image", "url": "javascript:alert(1)"},
        ]
    )
    assert 'href="https://files.example/cat.png"' in text
    assert "javascript:" not in text


def test_agent_thoughts_usage_and_empty_announcements():
    text = page(
        [
            {"event": "agent_thought", "thought": "", "tool": "", "observation": ""},
            {"event": "agent_thought", "tool": "weather", "tool_input": {"city": "Oslo"}, "observation": "rain"},
            {"event": "agent_message", "answer": "Take an umbrella."},
            {"event": "message_end", "metadata": {"usage": {"prompt_tokens": 3, "total_tokens": 9, "latency": 1.5}}},
        ]
    )
    assert text.count('class="thought"') == 1
    assert "weather" in text and "Oslo" in text and "rain" in text
    assert "Take an umbrella." in text
    assert "tokens: 9" in text


def test_workflow_nodes_text_and_outputs():
    text = page(
        [
            {"event": "workflow_started", "data": {"id": "run"}},
            {"event": "node_started", "data": {"title": "Start", "node_type": "start"}},
            {
                "event": "node_finished",
                "data": {"title": "Start", "node_type": "start", "status": "succeeded", "elapsed_time": 0.01},
            },
            {"event": "text_chunk", "data": {"text": "Once upon"}},
            {"event": "text_chunk", "data": {"text": " a time"}},
            {
                "event": "workflow_finished",
                "data": {
                    "status": "succeeded",
                    "outputs": {"story": "Once upon a time"},
                    "elapsed_time": 1.25,
                    "total_tokens": 42,
                },
            },
        ],
        kind=WORKFLOW,
    )
    assert '<ol class="nodes"' in text and "</ol>" in text
    assert '<li class="succeeded">' in text
    assert "Once upon a time" in text and "1.25 s" in text and "tokens: 42" in text
    assert text.index("Start") < text.index("Once upon") < text.index('class="card outputs')


def test_blocking_results_render_like_their_last_event():
    workflow = page([{"workflow_run_id": "r", "data": {"status": "failed", "outputs": {}, "error": "boom"}}], WORKFLOW)
    assert 'class="status failed"' in workflow and "boom" in workflow
    chat = page([{"event": "message", "answer": "whole", "metadata": {"usage": {"total_tokens": 4}}}])
    assert "whole" in chat and "tokens: 4" in chat


def test_error_event_is_a_visible_block():
    text = page([{"event": "message", "answer": "par"}, {"event": "error", "message": "model overloaded"}])
    assert 'role="alert"' in text and "model overloaded" in text
    assert text.index("par") < text.index("model overloaded")


def test_csp_allows_exactly_the_inline_stylesheet():
    text = page([])
    style = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    assert style == STYLESHEET
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # falls back to default-src 'none': no script at all
    assert "<script" not in text


def test_img_src_and_everything_else_not_needed_is_refused():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert set(directives) == {"default-src", "style-src", "form-action", "base-uri", "frame-ancestors"}
    assert directives["default-src"] == "'none'"  # images, scripts, fonts, frames, connections: none
    assert directives["style-src"].startswith("'sha256-") and " " not in directives["style-src"]
    assert directives["form-action"] == "'self'" and directives["base-uri"] == "'none'"


def head_of(info: PageInfo) -> str:
    return page_with(info, [])


def page_with(info: PageInfo, events) -> str:
    return b"".join(render(Format.HTML, iter(events), info)).decode()


def test_the_header_and_the_tab_name_the_app_or_its_short_id():
    named = head_of(PageInfo(CHAT, APP_ID, app_name="support"))
    assert "<h1>support</h1>" in named and "<title>support · Chat app</title>" in named
    short = APP_ID.split("-")[0]
    unnamed = head_of(PageInfo(WORKFLOW, APP_ID))
    assert f"<h1>{short}</h1>" in unnamed and f"<title>{short} · Workflow app</title>" in unnamed
    assert APP_ID not in unnamed  # the full id is for programs, not for the page's reader


def test_the_tab_is_translated_and_a_hostile_name_escaped():
    chinese = head_of(PageInfo(COMPLETION, APP_ID, app_name="<b>x</b>", language="zh_Hans"))
    assert "<title>&lt;b&gt;x&lt;/b&gt; · 文本生成应用</title>" in chinese and "<b>x</b>" not in chinese


WORKFLOW_RUN = [
    {"event": "text_chunk", "data": {"text": "Once upon "}},
    {"event": "text_chunk", "data": {"text": "a time\n"}},
]


def test_a_result_that_repeats_the_streamed_text_hides_the_streamed_card():
    done = {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {"story": "Once upon a time"}}}
    text = page_with(PageInfo(WORKFLOW, APP_ID), [*WORKFLOW_RUN, done])
    assert 'class="card text-card"' in text and 'class="card outputs repeats-text"' in text
    assert "main:has(.outputs.repeats-text) .text-card { display: none; }" in STYLESHEET


def test_a_result_with_other_outputs_keeps_the_streamed_card():
    done = {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {"count": 3, "story": "other"}}}
    assert 'class="card outputs"' in page_with(PageInfo(WORKFLOW, APP_ID), [*WORKFLOW_RUN, done])
    failed = {"event": "workflow_finished", "data": {"status": "failed", "outputs": {}, "error": "boom"}}
    assert 'class="card outputs"' in page_with(PageInfo(WORKFLOW, APP_ID), [*WORKFLOW_RUN, failed])


def test_replaced_text_that_the_result_repeats_shows_once_too():
    replaced = {"event": "text_replace", "data": {"text": "Moderated."}}
    done = {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {"text": "Moderated."}}}
    text = page_with(PageInfo(WORKFLOW, APP_ID), [*WORKFLOW_RUN, replaced, done])
    assert text.count('text-card"') == 2 and 'class="card outputs repeats-text"' in text


CHATFLOW = [
    {"event": "message", "answer": "The answer.", "conversation_id": "c1"},
    {"event": "workflow_finished", "data": {"status": "succeeded", "elapsed_time": 2.5, "total_tokens": 40}},
]


def test_a_chatflow_says_its_tokens_and_time_once():
    usage = {"event": "message_end", "metadata": {"usage": {"total_tokens": 41, "latency": 2.6}}}
    text = page_with(PageInfo(CHAT, APP_ID, "q"), [*CHATFLOW, usage])
    assert text.count("tokens: ") == 1 and text.count("elapsed: ") == 1
    assert "tokens: 41" in text and '<span class="status succeeded">succeeded</span>' in text


def test_a_chatflow_without_usage_still_says_its_tokens_and_time():
    failed = [
        {"event": "message", "answer": "The ans", "conversation_id": "c1"},
        {"event": "workflow_finished", "data": {"status": "failed", "elapsed_time": 2.5, "total_tokens": 40}},
        {"event": "error", "message": "Run failed: boom"},
    ]
    text = page_with(PageInfo(CHAT, APP_ID, "q"), failed)
    assert text.count("tokens: 40") == 1 and text.count("elapsed: 2.50 s") == 1
    assert text.index("Run failed: boom") < text.index("tokens: 40")


def test_new_conversation_is_a_link_or_with_a_key_a_post_that_carries_it():
    answer = [{"event": "message", "answer": "hi", "conversation_id": "c1"}]
    plain = page_with(PageInfo(CHAT, APP_ID, "q", restart_href="./support"), answer)
    assert '<a class="restart" href="./support">New conversation</a>' in plain and 'id="restart"' not in plain
    keyed = page_with(PageInfo(CHAT, APP_ID, "q", carried={"api_key": 'k"<'}, restart_href="./support"), answer)
    assert '<button type="submit" form="restart" class="restart">New conversation</button>' in keyed
    restart = keyed.split('<form id="restart"', 1)[1].split("</form>", 1)[0]
    assert 'method="post" action="./support"' in restart
    assert '<input type="hidden" name="api_key" value="k&#34;&lt;">' in restart
    assert 'href="./support"' not in keyed  # no GET that would lose the key


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/\t/evil.example/x", ""),
        ("/\n/evil.example", ""),
        ("/\r\n/evil.example", ""),
        (" //evil.example", ""),
        ("\x00/\\evil.example", ""),
        ("java\tscript:alert(1)", ""),
        ("\x01javascript:alert(1)", ""),
        ("https:evil.example", ""),
        ("/files/a.png", "/files/a.png"),
        (" https://files.example/a\t.png\n", "https://files.example/a.png"),
        ("/files/\na.png", "/files/a.png"),
    ],
)
def test_a_url_is_checked_as_a_browser_reads_it(url, shown):
    assert safe_url(url) == shown


def test_an_error_page_names_what_happened_in_its_tab_in_the_readers_language():
    response = error_response(app_not_found("no such app"), Format.HTML, {}, "ja_JP")
    page = b"".join(response.response).decode()
    assert "<title>アプリが見つかりません</title>" in page
