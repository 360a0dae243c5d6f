"""Event sequences Dify sends that the Service API documentation leaves out, in the html page."""

from relay.core.apps import CHAT, WORKFLOW
from relay.native.formats import PageInfo, render
from relay.native.request import Format
from tests.unit.conftest import APP_ID


def page(events, kind=WORKFLOW) -> str:
    return b"".join(render(Format.HTML, iter(events), PageInfo(kind, APP_ID, "q"))).decode()


def test_a_paused_run_says_it_waits_for_a_person_and_is_not_done():
    text = page(
        [
            {"event": "workflow_started", "data": {}},
            {"event": "human_input_required", "data": {"form_title": "Approve <it>"}},
            {"event": "workflow_paused", "data": {}},
        ]
    )
    assert "Approve &lt;it&gt;" in text and "Paused" in text and "Done." not in text
    assert text.rstrip().endswith("</html>")


def test_a_failed_chatflow_shows_its_failure_once_and_no_done():
    text = page(
        [
            {"event": "workflow_finished", "data": {"status": "failed", "error": "boom", "outputs": {}}},
            {"event": "error", "code": "invalid_param", "message": "Run failed: boom"},
        ],
        kind=CHAT,
    )
    assert "Run failed: boom" in text and "Done." not in text


def test_retries_iterations_loops_and_replacements_show():
    text = page(
        [
            {"event": "node_retry", "data": {"title": "LLM", "node_type": "llm", "error": "rate limited"}},
            {"event": "iteration_started", "data": {"title": "Each item", "node_type": "iteration"}},
            {"event": "iteration_next", "data": {"index": 1}},
            {"event": "iteration_completed", "data": {"title": "Each item", "node_type": "iteration"}},
            {"event": "loop_started", "data": {"title": "Until done", "node_type": "loop"}},
            {"event": "loop_completed", "data": {"title": "Until done", "node_type": "loop", "error": "x"}},
            {"event": "text_chunk", "data": {"text": "draft"}},
            {"event": "text_replace", "data": {"text": "clean"}},
            {"event": "agent_log", "data": {"label": "internal"}},
            {"event": "tts_message", "audio": "QUJD"},
            {"event": "workflow_finished", "data": {"status": "partial-succeeded", "outputs": {"a": 1}}},
        ]
    )
    assert 'class="retry"' in text and "rate limited" in text
    assert "Each item" in text and "Until done" in text and 'class="failed"' in text
    assert "clean" in text and "QUJD" not in text
    assert "status partial-succeeded" in text and "Done." in text
