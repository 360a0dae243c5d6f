"""Numbers JSON cannot spell (``NaN``, ``Infinity``) in an app's events reach every client as strict JSON.

Python's ``json`` reads them from the daemon's lines; written back as they are, one of them makes a browser's
``JSON.parse`` (or any strict parser) reject the whole event. Through the real plugin process, every format of the
native routes and every answer of the OpenAI and MCP surfaces parses with a parser that refuses them.
"""

import json
from typing import Any

import pytest

from tests.integration.apps import SCRIPTED_APP

OUTPUTS = {"score": float("nan"), "ceiling": float("inf"), "floor": float("-inf"), "text": "ok"}
EVENTS = [
    {"event": "message", "answer": "a", "conversation_id": "c", "message_id": "m", "weight": float("nan")},
    {"event": "workflow_finished", "data": {"status": "succeeded", "outputs": OUTPUTS}, "conversation_id": "c"},
    {"event": "message_end", "conversation_id": "c", "message_id": "m", "metadata": {"usage": {"price": float("inf")}}},
]
SETTINGS = {"allowed_apps": f"scripted={SCRIPTED_APP}"}


def strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def scripted(apps):
    apps.script = EVENTS
    yield apps
    apps.script = []


@pytest.mark.parametrize("fmt", ["ndjson", "sse", "json"])
def test_every_native_format_is_strict_json(plugin, scripted, fmt):
    mode = "&response_mode=blocking" if fmt == "json" else ""
    response = plugin.request("GET", f"/chat/{SCRIPTED_APP}?query=hi&format={fmt}{mode}", settings=SETTINGS)
    assert response.status == 200
    text = response.text()
    if fmt == "ndjson":
        events = [strict(line) for line in text.splitlines()]
    elif fmt == "sse":
        events = [strict(line.removeprefix("data: ")) for line in text.splitlines() if line.startswith("data: ")]
    else:
        events = [strict(text)]
    assert events[0]["weight"] is None
    if fmt != "json":
        assert events[1]["data"]["outputs"] == {"score": None, "ceiling": None, "floor": None, "text": "ok"}


@pytest.mark.parametrize("stream", [True, False])
def test_openai_answers_are_strict_json(plugin, scripted, stream):
    document = {"model": "scripted", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Content-Type": "application/json"}
    response = plugin.request(
        "POST", "/v1/chat/completions", headers=headers, body=json.dumps(document).encode(), settings=SETTINGS
    )
    assert response.status == 200
    text = response.text()
    if stream:
        frames = [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]
        assert frames[-1] == "[DONE]"
        chunks = [strict(frame) for frame in frames[:-1]]
        assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks if chunk["choices"]) == "a"
    else:
        assert strict(text)["choices"][0]["message"]["content"] == "a"


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/event-stream"])
def test_mcp_results_are_strict_json(plugin, scripted, accept):
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "scripted"}}
    message["params"]["arguments"] = {"query": "hi"}
    headers = {"Content-Type": "application/json", "Accept": accept}
    response = plugin.request("POST", "/mcp", headers=headers, body=json.dumps(message).encode(), settings=SETTINGS)
    assert response.status == 200
    text = response.text()
    if accept.endswith("event-stream"):
        messages = [strict(line.removeprefix("data: ")) for line in text.splitlines() if line.startswith("data: ")]
    else:
        messages = [strict(text)]
    assert messages[-1]["result"]["isError"] is False
