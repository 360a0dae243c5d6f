"""What real Dify does (recorded in tests/fixtures and ../dify-platform facts), said honestly on every surface,
through the real plugin process: a conversation Dify silently replaced, a completion app Dify cannot run for a
plugin, an app type Dify does not dispatch to plugins, a run that pauses for a person."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.daemon.process import DifyError, DifyServerError, PluginProcess

ROOT = Path(__file__).resolve().parents[2]
CHATFLOW = "c7d35b18-9e2a-4c6f-8b40-6e1a3f5d9c27"
COMPLETION = "d3f1a2b4-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
NEW_AGENT = "e4a5b6c7-d8e9-4f0a-8b1c-2d3e4f5a6b7c"
PAUSING = "f5b6c7d8-e9f0-4a1b-8c2d-3e4f5a6b7c8d"
KNOWN = "0b9e4c1a-6d2f-4e8b-9a3c-5f7d1e2b4c6a"
UNKNOWN = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
NEW = "11112222-3333-4444-8555-666677778888"
SETTINGS = {
    "allowed_apps": f"chat:flow={CHATFLOW}, completion:blurb={COMPLETION}, chat:new={NEW_AGENT}, "
    f"workflow:paused={PAUSING}"
}
JSON = {"Content-Type": "application/json"}


class MeasuredDify:
    """Answers as Dify 1.16 answered a plugin's calls (see tests/fixtures/real_dify): a chatflow runs an unknown
    conversation in a new one; completion apps fail with the generic 500; the beta Agent type is not dispatched;
    a workflow stops at a human-input node."""

    def __init__(self) -> None:
        self.runs = 0

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        variable = {COMPLETION: "query", PAUSING: "topic"}.get(app_id)
        form = [{"paragraph": {"variable": variable, "label": variable, "required": True}}] if variable else []
        return {"opening_statement": "", "user_input_form": form}

    def invoke_app(self, request: dict[str, Any]) -> Any:
        self.runs += 1
        app_id = request["app_id"]
        if app_id == COMPLETION:
            raise DifyServerError("'query'")
        if app_id == NEW_AGENT:
            raise DifyError("unexpected app type")
        if app_id == PAUSING:
            return self._paused()
        conversation = request.get("conversation_id") or NEW
        if conversation != KNOWN:
            conversation = NEW  # Dify's advanced-chat generator swallows the unknown id and starts afresh
        return self._chatflow(conversation, blocking=request.get("response_mode") == "blocking")

    def _chatflow(self, conversation: str, *, blocking: bool) -> Iterator[dict[str, Any]]:
        common = {"conversation_id": conversation, "message_id": "m-1", "task_id": "t-1"}
        if blocking:
            yield {"event": "message", "answer": "You said hi", "metadata": {"usage": {}}, **common}
            return
        yield {"event": "workflow_started", "workflow_run_id": "r-1", "data": {"id": "r-1"}, **common}
        yield {"event": "message", "answer": "You said hi", **common}
        yield {"event": "message_end", "metadata": {"usage": {}}, **common}
        yield {"event": "workflow_finished", "workflow_run_id": "r-1", "data": {"status": "succeeded"}, **common}

    @staticmethod
    def _paused() -> list[dict[str, Any]]:
        run = {"workflow_run_id": "r-2", "task_id": "t-2"}
        return [
            {"event": "workflow_started", "data": {"id": "r-2"}, **run},
            {"event": "human_input_required", "data": {"form_id": "f-1", "node_title": "Approve"}, **run},
            {"event": "workflow_paused", "data": {"id": "r-2", "status": "paused"}, **run},
        ]


@pytest.fixture(scope="module")
def dify() -> MeasuredDify:
    return MeasuredDify()


@pytest.fixture(scope="module")
def plugin(dify) -> Iterator[PluginProcess]:
    process = PluginProcess(ROOT, dify)
    process.start()
    yield process
    process.stop()


def native(plugin, path: str, fmt: str = "ndjson"):
    return plugin.request("GET", f"{path}&format={fmt}", settings=SETTINGS)


def openai(plugin, model: str, stream: bool = False, conversation: str | None = None):
    headers = {**JSON, **({"X-Conversation-Id": conversation} if conversation else {})}
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return plugin.request(
        "POST", "/v1/chat/completions", headers=headers, body=json.dumps(body).encode(), settings=SETTINGS
    )


def mcp(plugin, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    headers = {**JSON, "Accept": "application/json"}
    return plugin.request("POST", "/mcp", headers=headers, body=json.dumps(message).encode(), settings=SETTINGS).json()


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "html", "json"])
def test_a_conversation_dify_replaced_is_404_before_the_first_byte_natively(plugin, fmt):
    mode = "&response_mode=blocking" if fmt == "json" else ""
    response = native(plugin, f"/chat/flow?query=hi&conversation_id={UNKNOWN}{mode}", fmt)
    assert response.status == 404
    assert "You said" not in response.text()  # nothing of the new conversation is relayed
    if fmt != "html":
        assert response.json()["error"]["code"] == "conversation_not_found"
    continued = native(plugin, f"/chat/flow?query=hi&conversation_id={KNOWN}{mode}", fmt)
    assert continued.status == 200 and "You said" in continued.text()


@pytest.mark.parametrize("stream", [False, True])
def test_a_conversation_dify_replaced_is_404_for_openai_clients(plugin, stream):
    response = openai(plugin, "flow", stream, UNKNOWN)
    assert response.status == 404
    assert response.json()["error"]["code"] == "conversation_not_found"


def test_a_conversation_dify_replaced_is_a_tool_error_for_mcp(plugin):
    result = mcp(plugin, "flow", {"query": "hi", "conversation_id": UNKNOWN})["result"]
    assert result["isError"] is True and UNKNOWN in result["content"][0]["text"]


def test_a_conversation_id_that_is_no_uuid_never_reaches_dify(plugin, dify):
    runs = dify.runs
    assert native(plugin, "/chat/flow?query=hi&conversation_id=conv-1").status == 404
    assert openai(plugin, "flow", conversation="conv-1").status == 404
    assert dify.runs == runs


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_a_completion_app_dify_cannot_run_says_what_works_instead(plugin, fmt):
    mode = "&response_mode=blocking" if fmt == "json" else ""
    response = native(plugin, f"/completion/blurb?inputs.query=hi{mode}", fmt)
    error = response.json()["error"]
    assert response.status == 502 and error["code"] == "app_type_unsupported"
    assert "workflow app" in error["message"] and "response_mode" not in error["message"]
    assert response.header("x-should-retry") == "false"
    assert openai(plugin, "blurb").header("x-should-retry") == "false"
    assert "workflow app" in mcp(plugin, "blurb", {"query": "hi"})["result"]["content"][0]["text"]


def test_an_app_type_dify_does_not_dispatch_to_plugins_says_so(plugin):
    response = native(plugin, "/chat/new?query=hi")
    assert response.status == 502 and response.json()["error"]["code"] == "app_type_unsupported"
    assert "Agent apps" in response.json()["error"]["message"]


def test_a_run_that_waits_for_a_person_ends_cleanly_on_every_surface(plugin):
    events = native(plugin, "/workflow/paused?inputs.topic=x").lines()
    assert events[-1]["event"] == "workflow_paused"
    page = native(plugin, "/workflow/paused?inputs.topic=x", "html").text()
    assert "paused until a person answers in Dify" in page and page.rstrip().endswith("</html>")
    answer = openai(plugin, "paused").json()
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert "paused until a person answers in Dify" in answer["choices"][0]["message"]["content"]
    streamed = openai(plugin, "paused", stream=True).text()
    assert "paused until a person answers in Dify" in streamed and streamed.rstrip().endswith("[DONE]")
    result = mcp(plugin, "paused", {})["result"]
    assert result["isError"] is False and "paused until a person answers in Dify" in result["content"][0]["text"]
