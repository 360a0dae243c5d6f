"""A caller is a key: through the real plugin process, nothing one caller sends reaches, continues or reads what
another started; what a client echoes back is bounded; a batch runs a bounded number of apps; storage stays bounded
however many conversations a burst starts, on several endpoints of one process."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DEMO_SETTINGS
from relay.core import conversations
from tests.integration.apps import CountingDemo

ROOT = Path(__file__).resolve().parents[2]
VICTIM, ATTACKER = "victim-key", "attacker-key"
KEYED = {**DEMO_SETTINGS, "api_key": f"{VICTIM}, {ATTACKER}"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def demo() -> CountingDemo:
    return CountingDemo()


@pytest.fixture(scope="module")
def plugin(demo) -> Iterator[PluginProcess]:
    process = PluginProcess(ROOT, demo)
    process.start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def still_serving(plugin):
    yield
    assert plugin.alive, "the plugin process died"
    assert not [line for line in plugin.recent_logs if "Traceback" in line]


def chat(plugin, key: str | None, *texts: str, settings: dict[str, str] = KEYED) -> dict[str, Any]:
    roles = ("user", "assistant")
    messages = [{"role": roles[index % 2], "content": text} for index, text in enumerate(texts)]
    headers = {**JSON, **({"Authorization": f"Bearer {key}"} if key else {})}
    body = json.dumps({"model": "chatbot", "messages": messages}).encode()
    response = plugin.request("POST", "/v1/chat/completions", headers=headers, body=body, settings=settings)
    assert response.status == 200, response.text()
    return response.json()


def reply_of(answer: dict[str, Any]) -> str:
    return answer["choices"][0]["message"]["content"]


def test_another_key_with_the_same_history_never_takes_over_a_conversation(plugin, demo):
    victim = chat(plugin, VICTIM, "Hello")
    attacker = chat(plugin, ATTACKER, "Hello")
    assert reply_of(victim) == reply_of(attacker)  # the same answer: the histories are identical
    assert victim["conversation_id"] != attacker["conversation_id"]
    secret = chat(plugin, VICTIM, "Hello", reply_of(victim), "My card PIN is 4321")
    assert secret["conversation_id"] == victim["conversation_id"]
    probe = chat(plugin, ATTACKER, "Hello", reply_of(attacker), "What did I say?")
    assert probe["conversation_id"] == attacker["conversation_id"]
    assert "4321" not in reply_of(probe)
    turns = demo.turns()
    assert turns[victim["conversation_id"]] == 2 and turns[attacker["conversation_id"]] == 2


def test_without_keys_identical_histories_never_share_a_conversation_and_nothing_is_stored(plugin):
    stored = dict(plugin.storage.values)
    first = chat(plugin, None, "Hello", settings=DEMO_SETTINGS)
    second = chat(plugin, None, "Hello", settings=DEMO_SETTINGS)
    follow = chat(plugin, None, "Hello", reply_of(first), "And then?", settings=DEMO_SETTINGS)
    ids = {first["conversation_id"], second["conversation_id"], follow["conversation_id"]}
    assert len(ids) == 3
    assert "[Conversation so far]" in reply_of(follow)  # the history travelled as context
    assert plugin.storage.values == stored


def test_a_burst_on_other_endpoints_never_breaks_a_keyed_callers_continuity(plugin):
    plugin.endpoint_id = "endpoint-kept"
    kept = chat(plugin, VICTIM, "Remember me")
    try:
        for endpoint in range(conversations.MAX_ENDPOINTS - 1):
            plugin.endpoint_id = f"endpoint-busy-{endpoint}"
            for number in range(3):
                chat(plugin, ATTACKER, f"burst {endpoint} {number}")
        for number in range(40):
            chat(plugin, None, f"anonymous {number}", settings=DEMO_SETTINGS)
    finally:
        plugin.endpoint_id = "endpoint-kept"
    again = chat(plugin, VICTIM, "Remember me", reply_of(kept), "Still there?")
    assert again["conversation_id"] == kept["conversation_id"]
    assert plugin.storage.counted <= conversations.MAX_SHARED_BYTES


def mcp(plugin, message: Any, accept: str = "application/json"):
    headers = {**JSON, "Accept": accept, "Authorization": f"Bearer {VICTIM}"}
    return plugin.request("POST", "/mcp", headers=headers, body=json.dumps(message).encode(), settings=KEYED)


def outline_call(ident: Any = 1, **meta: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "outline", "arguments": {"topic": "tea"}}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": ident, "method": "tools/call", "params": params}


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/event-stream"])
def test_a_huge_progress_token_is_refused_before_the_app_runs(plugin, demo, accept):
    runs = demo.runs
    response = mcp(plugin, outline_call(progressToken="p" * (7 * 1024 * 1024)), accept)
    body = response.text()
    assert len(body) < 2048
    assert json.loads(body.removeprefix("event: message\ndata: "))["error"]["code"] == -32602
    assert demo.runs == runs
    fine = mcp(plugin, outline_call(progressToken="p" * 256), "application/json, text/event-stream").text()
    assert fine.count("p" * 256) >= 1 and demo.runs == runs + 1


@pytest.mark.parametrize(
    "ident", ["i" * 257, {"an": "object"}, ["a", "list"], True, None], ids=["long", "object", "list", "bool", "null"]
)
def test_an_id_that_is_not_a_short_string_or_a_number_is_refused_unechoed(plugin, demo, ident):
    runs = demo.runs
    answer = mcp(plugin, outline_call(ident)).json()
    assert answer["error"]["code"] == -32600 and answer["id"] is None
    assert demo.runs == runs


@pytest.mark.parametrize("method", [["tools/call"], {"m": 1}, 7])
def test_a_method_that_is_not_a_string_is_invalid_request_without_a_traceback(plugin, method):
    answer = mcp(plugin, {"jsonrpc": "2.0", "id": 3, "method": method}).json()
    assert answer["error"]["code"] == -32600


def test_a_batch_runs_a_bounded_number_of_tools(plugin, demo):
    headers = {"MCP-Protocol-Version": "2025-03-26"}
    runs = demo.runs
    too_many = [outline_call(number) for number in range(32)]
    refused = plugin.request(
        "POST",
        "/mcp",
        headers={**JSON, **headers, "Authorization": f"Bearer {VICTIM}"},
        body=json.dumps(too_many).encode(),
        settings=KEYED,
    ).json()
    assert refused["error"]["code"] == -32600 and "at most 8" in refused["error"]["message"]
    assert demo.runs == runs
    batch = [outline_call(1), {"jsonrpc": "2.0", "method": "notifications/initialized"}, outline_call(2)]
    answers = plugin.request(
        "POST",
        "/mcp",
        headers={**JSON, **headers, "Authorization": f"Bearer {VICTIM}"},
        body=json.dumps(batch).encode(),
        settings=KEYED,
    ).json()
    assert [answer["id"] for answer in answers] == [1, 2]
    assert all(answer["result"]["isError"] is False for answer in answers)
    assert demo.runs == runs + 2
