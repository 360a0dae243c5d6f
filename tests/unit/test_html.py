"""The streamed HTML page: structure, escaping, and how each kind of event shows."""

import base64
import hashlib
import re

from relay.core.apps import CHAT, WORKFLOW
from relay.native.formats import PageInfo, render
from relay.native.pages import CONTENT_SECURITY_POLICY, STYLESHEET
from relay.native.request import Format
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
    assert text.index("Start") < text.index("Once upon") < text.index('class="card outputs"')


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
