"""The plugin against the demo apps, which answer with the exact texts Dify and its daemon produce, through the
real plugin process: what a client gets for each of Dify's less common answers.

The platform's time limits are set to fractions of what they are (``PluginProcess``'s ``app_read_timeout`` and
``max_invocation_timeout``), with the same wording.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import (
    AGENT_APP_ID,
    CHATBOT_APP_ID,
    CHATFLOW_APP_ID,
    DEMO_SETTINGS,
    WORKFLOW_APP_ID,
    DemoApps,
)

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "77777777-7777-4777-8777-777777777777"
OPEN = {"allowed_apps": "*"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def plugin() -> Iterator[PluginProcess]:
    process = PluginProcess(ROOT, DemoApps(token_delay=0, silence=3), max_invocation_timeout=1)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def cut_early() -> Iterator[PluginProcess]:
    """The daemon's per-call deadline at half a second instead of 240 s."""
    process = PluginProcess(ROOT, DemoApps(token_delay=0, silence=3), app_read_timeout=0.5)
    process.start()
    yield process
    process.stop()


def error_of(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status, body["error"]["code"], body["error"]["message"]


def ask(plugin, path: str, fields: dict, fmt: str = "ndjson", settings: dict = OPEN):
    return plugin.request(
        "POST", f"{path}?format={fmt}", headers=JSON, body=json.dumps(fields).encode(), settings=settings
    )


def test_any_caller_can_continue_a_conversation_whatever_its_user(plugin):
    first = ask(plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "hello", "user": "alice"}).lines()
    conversation = first[-1]["conversation_id"]
    again = ask(
        plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "me too", "user": "mallory", "conversation_id": conversation}
    )
    assert again.status == 200
    assert again.lines()[-1]["conversation_id"] == conversation


def test_an_unknown_app_on_the_form_page_is_404(plugin):
    response = plugin.request("GET", f"/chat/{UNKNOWN}", headers={"Accept": "text/html"}, settings=OPEN)
    assert response.status == 404
    assert "was not found in this workspace" in response.text()


def test_an_unknown_conversation_is_404_conversation_not_found(plugin):
    response = ask(plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "hi", "conversation_id": "no-such-conversation"})
    status, code, message = error_of(response)
    assert (status, code) == (404, "conversation_not_found")
    assert "no-such-conversation" in message


def test_the_sdks_silence_limit_ends_the_stream_naming_it(plugin):
    events = ask(plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "silent please"}).lines()
    assert events[0]["event"] == "message"
    assert events[-1]["event"] == "error" and events[-1]["code"] == "timeout"
    assert "1 s" in events[-1]["message"]
    assert plugin.alive


def test_the_daemons_per_call_limit_ends_the_stream_naming_it(cut_early):
    events = ask(cut_early, f"/chat/{CHATBOT_APP_ID}", {"query": "silent please"}).lines()
    assert events[-1]["code"] == "timeout"
    assert "240 s" in events[-1]["message"] and "tcp" not in events[-1]["message"]


def test_a_model_error_says_to_stream_when_blocking_hides_it(plugin):
    blocking = ask(plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "quota"}, fmt="json")
    status, code, message = error_of(blocking)
    assert (status, code) == (502, "invocation_failed") and "response_mode=streaming" in message
    streaming = ask(plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "quota"})
    assert streaming.status == 200
    (event,) = streaming.lines()
    assert event["event"] == "error" and event["code"] == "provider_quota_exceeded"


def test_difys_input_validation_wording_reaches_the_client(plugin):
    response = ask(plugin, f"/workflow/{WORKFLOW_APP_ID}", {"inputs": {"topic": 42}})
    status, code, message = error_of(response)
    assert (status, code) == (400, "invalid_input")  # the caller's mistake, which no retry fixes
    assert response.header("x-should-retry") == "false"
    assert message == "(type 'text-input') topic in input form must be a string"


SEQUENCES = {
    "failed chatflow": (f"/chat/{CHATFLOW_APP_ID}", {"query": "fail"}, "error", "Run failed"),
    "paused": (f"/chat/{CHATFLOW_APP_ID}", {"query": "paused"}, "workflow_paused", "Paused"),
    "stopped": (f"/workflow/{WORKFLOW_APP_ID}", {"inputs": {"topic": "stopped"}}, "workflow_finished", "stopped"),
    "partial": (
        f"/workflow/{WORKFLOW_APP_ID}",
        {"inputs": {"topic": "partial"}},
        "workflow_finished",
        "partial-succeeded",
    ),
    "retry, iterate, loop": (
        f"/workflow/{WORKFLOW_APP_ID}",
        {"inputs": {"topic": "retry iterate loop agent-log replace"}},
        "workflow_finished",
        'class="retry"',
    ),
    # A chatflow ends message_end, then workflow_finished (measured).
    "form filled": (f"/chat/{CHATFLOW_APP_ID}", {"query": "form-filled"}, "workflow_finished", "Done."),
    "form timed out": (
        f"/workflow/{WORKFLOW_APP_ID}",
        {"inputs": {"topic": "form-timeout"}},
        "workflow_finished",
        "succeeded",
    ),
    # With text-to-speech auto-play, the last audio and tts_message_end come after message_end: not truncated.
    "tts": (f"/chat/{CHATBOT_APP_ID}", {"query": "tts"}, "tts_message_end", "Done."),
    "tts chatflow": (f"/chat/{CHATFLOW_APP_ID}", {"query": "tts"}, "tts_message_end", "Done."),
    "truncated": (f"/chat/{CHATBOT_APP_ID}", {"query": "truncated"}, "error", "final event"),
}


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html"])
def test_each_sequence_dify_sends_renders_in_every_format(plugin, name, fmt):
    path, fields, last_event, in_page = SEQUENCES[name]
    response = ask(plugin, path, fields, fmt=fmt)
    assert response.status == 200 and response.error is None
    text = response.text()
    if fmt == "html":
        assert text.rstrip().endswith("</html>")
        assert in_page in text
        if last_event == "error" or name == "paused":
            assert "Done." not in text
        return
    lines = [line.removeprefix("data: ") for line in text.split("\n") if line.strip()]
    events = [json.loads(line) for line in lines]
    assert events[-1]["event"] == last_event
    errors = [event for event in events if event["event"] == "error"]
    assert len(errors) == (1 if last_event == "error" else 0)  # one error at most, and never a false truncation
    if name == "truncated":
        assert events[-1]["code"] == "stream_truncated"


@pytest.mark.parametrize("name", SEQUENCES)
def test_each_sequence_dify_sends_gives_a_json_document_or_a_contract_error(plugin, name):
    path, fields, last_event, _ = SEQUENCES[name]
    response = ask(plugin, path, fields, fmt="json")
    document = response.json()
    if response.status == 200:
        assert document.get("answer") is not None or document.get("data", {}).get("status")
    else:
        # Dify refuses a failed chatflow, and ends a truncated blocking run with its own sentence.
        assert last_event == "error" and response.status == 502
        assert set(document) == {"error"} and document["error"]["message"]


def test_an_agent_asked_for_one_document_says_to_stream(plugin):
    status, code, message = error_of(ask(plugin, f"/chat/{AGENT_APP_ID}", {"query": "umbrella?"}, fmt="json"))
    assert (status, code) == (400, "invalid_input")
    assert message.startswith("Agent Chat App does not support blocking mode") and "streaming" in message


def test_event_fields_as_dify_sends_them_reach_the_client_unchanged(plugin):
    chat = [json.loads(line) for line in ask(plugin, f"/chat/{CHATBOT_APP_ID}", {"query": "hi"}).text().splitlines()]
    end = chat[-1]
    assert end["event"] == "message_end" and end["files"] is None and "annotation_reply" in end["metadata"]
    fields = {"inputs": {"topic": "iterate"}}
    flow = [json.loads(line) for line in ask(plugin, f"/workflow/{WORKFLOW_APP_ID}", fields).text().splitlines()]
    inner = [e for e in flow if e["event"] == "node_started" and e["data"].get("iteration_id")]
    assert inner and all("loop_id" in e["data"] for e in inner)
    assert "created_by" in flow[-1]["data"] and flow[-1]["event"] == "workflow_finished"


def test_the_demo_endpoint_serves_the_demo_apps_by_name(plugin):
    response = ask(plugin, "/workflow/outline", {"inputs": {"topic": "tea"}}, fmt="json", settings=DEMO_SETTINGS)
    assert response.json()["data"]["status"] == "succeeded"
