"""The MCP surface through the real plugin process.

The official ``mcp`` client (Streamable HTTP), unmodified, drives the local daemon and the demo apps in each of
its modes; raw requests check what a client never sends on its own; a second plugin process, with scripted apps
and a short keep-alive interval, plays what Dify rarely sends (hostile events, a cut stream, a long silence).
"""

import asyncio
import base64
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DEMO_APPS, DEMO_SETTINGS, DemoApp, DemoApps
from devkit.demo.inputs import Field
from devkit.serve import create_server
from relay.core.errors import GENERIC_FAILURE
from relay.core.invoke import TRUNCATED

ROOT = Path(__file__).resolve().parents[2]
KEY = "mcp-test-key"
SETTINGS = {**DEMO_SETTINGS, "api_key": KEY, "cors_allowed_origins": "https://allowed.example"}
MODERN = "2026-07-28"
HANDSHAKES = ("2025-11-25", "2025-06-18", "2025-03-26")
SUPPORTED = [MODERN, *HANDSHAKES]
MANIFEST = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
APPS = {app.slug: app for app in DEMO_APPS}
SAMPLE_ARGUMENTS = {
    "chatbot": {"query": "Hello there", "name": "Ada"},
    "agent": {"query": "Do I need an umbrella?", "city": "Lisbon"},
    "chatflow": {"query": "How do I upgrade?", "plan": "pro"},
    "outline": {"topic": "Green tea", "tone": "playful", "sections": 2, "with_summary": True},
    "blurb": {"product": "Solar kettle", "features": "boils water with sunlight"},
}


# -- the demo endpoint, and the official client ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    server = create_server(
        ROOT,
        DemoApps(token_delay=0.01, completion_fixed=True),
        settings=SETTINGS,
        console=lambda _: None,
        plugin_log=lambda _: None,
    )
    server.serve_in_background()
    try:
        yield f"{server.endpoint_url}/mcp"
    finally:
        server.close()


def run(mcp_url: str, work, key: str = KEY, mode: str = "auto"):
    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
        async with http, Client(streamable_http_client(mcp_url, http_client=http), mode=mode) as client:
            return await work(client)

    return asyncio.run(main())


def envelope(version: str = MODERN) -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"},
    }


def modern(method: str, ident: int = 1, version: str = MODERN, **params) -> tuple[dict, dict[str, str]]:
    """A 2026-07-28 request and the headers that go with it."""
    message = {"jsonrpc": "2.0", "id": ident, "method": method, "params": {"_meta": envelope(version), **params}}
    headers = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    if "name" in params:
        headers["Mcp-Name"] = params["name"]
    return message, headers


def rpc(method: str, ident: int = 1, **params) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}


def post(mcp_url: str, message: Any, headers: dict[str, str] | None = None, accept: str = "application/json"):
    base = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", "Accept": accept}
    with httpx2.Client(timeout=30) as http:
        return http.post(mcp_url, content=json.dumps(message).encode(), headers={**base, **(headers or {})})


def sse_messages(body: str) -> list[dict[str, Any]]:
    return [json.loads(line.removeprefix("data: ")) for line in body.splitlines() if line.startswith("data: ")]


# -- 1. every revision the mcp package speaks ----------------------------------------------------------------------


def test_the_client_in_its_default_mode_settles_on_2026_07_28(mcp_url):
    async def work(client):
        return client.protocol_version, client.server_info, client.session.discover_result, client.server_capabilities

    version, info, discovered, capabilities = run(mcp_url, work)
    assert version == MODERN
    assert (info.name, info.title, info.version) == (MANIFEST["name"], MANIFEST["label"]["en_US"], MANIFEST["version"])
    assert discovered.supported_versions == [MODERN]
    assert (discovered.ttl_ms, discovered.cache_scope, discovered.result_type) == (0, "private", "complete")
    assert capabilities.tools is not None


@pytest.mark.parametrize(("mode", "version"), [(MODERN, MODERN), ("auto", MODERN), ("legacy", HANDSHAKES[0])])
def test_each_mode_of_the_client_lists_calls_and_follows_progress(mcp_url, mode, version):
    notes = []

    async def progress(value, total, message):
        notes.append(message)

    async def work(client):
        listed = await client.list_tools()
        chat = await client.call_tool("chatbot", {"query": "hello"})
        outline = await client.call_tool("outline", {"topic": "Green tea"}, progress_callback=progress)
        return client.protocol_version, listed, chat, outline

    negotiated, listed, chat, outline = run(mcp_url, work, mode=mode)
    assert negotiated == version
    assert [tool.name for tool in listed.tools] == [app.slug for app in DEMO_APPS]
    assert not chat.is_error and "You said: “hello”" in chat.content[0].text
    assert not outline.is_error and "Green tea" in outline.structured_content["text"]
    # node by node while the workflow ran, and one "answering" for the hundred pieces of its answer
    assert notes == ["started", "Start succeeded", "answering", "LLM succeeded", "End succeeded"]
    if mode != "legacy":
        assert (listed.ttl_ms, listed.cache_scope, outline.result_type) == (0, "private", "complete")


@pytest.mark.parametrize("mode", [MODERN, "legacy"])
def test_an_unknown_tool_is_a_protocol_error(mcp_url, mode):
    with pytest.raises(BaseExceptionGroup) as caught:  # the client raises it from its task group
        run(mcp_url, lambda client: client.call_tool("nobody", {}), mode=mode)
    assert caught.group_contains(MCPError, match="Unknown tool 'nobody'")


def test_server_discover_answers_what_the_server_speaks(mcp_url):
    message, headers = modern("server/discover")
    response = post(mcp_url, message, headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    result = response.json()["result"]
    assert result == {
        "supportedVersions": [MODERN],
        "capabilities": {"tools": {"listChanged": False}, "resources": {}, "prompts": {}},
        "instructions": "Each tool runs one Dify app of this workspace and returns its answer.",
        "resultType": "complete",
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": {
            "io.modelcontextprotocol/serverInfo": {
                "name": MANIFEST["name"],
                "title": MANIFEST["label"]["en_US"],
                "version": MANIFEST["version"],
            }
        },
    }


def test_modern_results_are_complete_and_lists_say_how_long_to_cache_them(mcp_url):
    listed = post(mcp_url, *modern("tools/list")).json()["result"]
    assert (listed["resultType"], listed["ttlMs"], listed["cacheScope"]) == ("complete", 0, "private")
    assert "io.modelcontextprotocol/serverInfo" in listed["_meta"]
    message, headers = modern("tools/call", name="blurb", arguments={"product": "Kettle"})
    called = post(mcp_url, message, headers).json()["result"]
    assert called["resultType"] == "complete" and "ttlMs" not in called
    assert called["content"][0]["text"].startswith("Meet Kettle.") and called["isError"] is False
    probed = post(mcp_url, *modern("prompts/list")).json()["result"]
    assert probed["prompts"] == [] and probed["cacheScope"] == "private"


def refusal(mcp_url, message, headers) -> tuple[int, int, Any]:
    response = post(mcp_url, message, headers)
    body = response.json()
    return response.status_code, body["error"]["code"], body


@pytest.mark.parametrize(
    ("method", "code", "status"),
    [
        ("ping", -32601, 404),
        ("initialize", -32601, 404),
        ("logging/setLevel", -32601, 404),
        ("resources/subscribe", -32601, 404),
        ("sampling/nothing", -32601, 404),
    ],
)
def test_methods_2026_07_28_does_not_have_are_404(mcp_url, method, code, status):
    message, headers = modern(method)
    assert refusal(mcp_url, message, headers)[:2] == (status, code)


def test_modern_requests_are_checked_in_order(mcp_url):
    message, headers = modern("tools/list")
    without_meta = {**message, "params": {}}
    assert refusal(mcp_url, without_meta, headers)[:2] == (400, -32602)
    no_capabilities = {**message, "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}}
    assert refusal(mcp_url, no_capabilities, headers)[:2] == (400, -32602)
    assert refusal(mcp_url, message, {**headers, "Mcp-Method": "tools/call"})[:2] == (400, -32020)
    older = modern("tools/list", version="2025-11-25")[0]
    assert refusal(mcp_url, older, headers)[:2] == (400, -32020)
    call, call_headers = modern("tools/call", name="blurb", arguments={"product": "Kettle"})
    assert refusal(mcp_url, call, {**call_headers, "Mcp-Name": "outline"})[:2] == (400, -32020)
    future, future_headers = modern("tools/list", version="2099-01-01")
    status, code, body = refusal(mcp_url, future, future_headers)
    assert (status, code) == (400, -32022)
    assert body["error"]["data"] == {"supported": SUPPORTED, "requested": "2099-01-01"}


def test_a_tool_name_in_base64_is_read_as_such(mcp_url):
    message, headers = modern("tools/call", name="blurb", arguments={"product": "Kettle"})
    headers["Mcp-Name"] = "=?base64?" + base64.b64encode(b"blurb").decode() + "?="
    assert post(mcp_url, message, headers).json()["result"]["isError"] is False


def test_notifications_at_2026_07_28_are_noted_and_at_an_unknown_version_refused(mcp_url):
    note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    assert post(mcp_url, note, {"MCP-Protocol-Version": MODERN}).status_code == 202
    refused = post(mcp_url, note, {"MCP-Protocol-Version": "2099-01-01"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == -32022


# -- 2. the handshake revisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "answered"),
    [*((version, version) for version in HANDSHAKES), ("2024-11-05", HANDSHAKES[0]), ("1999-01-01", HANDSHAKES[0])],
)
def test_initialize_agrees_on_the_clients_version_or_offers_the_newest(mcp_url, asked, answered):
    params = {"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    result = post(mcp_url, rpc("initialize", **params)).json()["result"]
    assert result["protocolVersion"] == answered
    assert result["serverInfo"]["version"] == MANIFEST["version"]


@pytest.mark.parametrize("version", ["2024-11-05", "2099-01-01", "latest"])
def test_a_version_header_this_server_does_not_speak_is_400(mcp_url, version):
    response = post(mcp_url, rpc("ping"), {"MCP-Protocol-Version": version})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32022
    assert response.json()["error"]["data"] == {"supported": SUPPORTED, "requested": version}


@pytest.mark.parametrize("version", HANDSHAKES)
def test_every_handshake_revision_is_served_once_agreed(mcp_url, version):
    response = post(mcp_url, rpc("ping"), {"MCP-Protocol-Version": version})
    assert response.status_code == 200 and response.json()["result"] == {}


def test_a_batch_is_answered_for_2025_03_26_and_refused_after_it(mcp_url):
    batch = [rpc("ping", 1), {"jsonrpc": "2.0", "method": "notifications/initialized"}, rpc("prompts/list", 2), 7]
    for headers in ({}, {"MCP-Protocol-Version": "2025-03-26"}):
        answers = post(mcp_url, batch, headers).json()
        assert answers[:2] == [
            {"jsonrpc": "2.0", "id": 1, "result": {}},
            {"jsonrpc": "2.0", "id": 2, "result": {"prompts": []}},
        ]
        assert answers[2]["error"]["code"] == -32600
    called = post(mcp_url, [rpc("tools/call", 3, name="blurb", arguments={"product": "Kettle"})]).json()
    assert called[0]["result"]["content"][0]["text"].startswith("Meet Kettle.")
    assert post(mcp_url, [{"jsonrpc": "2.0", "method": "notifications/initialized"}]).status_code == 202
    assert post(mcp_url, [rpc("initialize", 4)]).json()[0]["error"]["code"] == -32600
    for refused in (
        post(mcp_url, batch, {"MCP-Protocol-Version": "2025-06-18"}),
        post(mcp_url, [], {}),
        post(mcp_url, [rpc("ping", n) for n in range(33)], {}),
    ):
        assert refused.status_code == 400 and refused.json()["error"]["code"] == -32600


# -- 3. HTTP: methods, CORS, JSON or SSE, what the client sends back -------------------------------------------


def test_the_key_and_the_origin_are_checked(mcp_url):
    with pytest.raises(BaseExceptionGroup) as refused_key:
        run(mcp_url, lambda client: client.list_tools(), key="wrong")
    assert refused_key.group_contains(MCPError, match="api key is not valid")
    refused = post(mcp_url, rpc("ping"), {"Origin": "https://evil.example"})
    allowed = post(mcp_url, rpc("ping"), {"Origin": "https://allowed.example"})
    assert refused.status_code == 403 and refused.json()["error"]["data"] == {"code": "origin_not_allowed"}
    assert allowed.status_code == 200 and allowed.json()["result"] == {}
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://allowed.example"


def test_get_and_delete_are_405_and_preflights_follow_the_allowed_origins(mcp_url):
    auth = {"Authorization": f"Bearer {KEY}"}
    asked = "authorization, content-type, mcp-protocol-version, mcp-method, mcp-name"
    with httpx2.Client(timeout=30) as http:
        get = http.get(mcp_url, headers=auth)
        delete = http.delete(mcp_url, headers=auth)
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": asked}
        allowed = http.options(mcp_url, headers={**preflight, "Origin": "https://allowed.example"})
        other = http.options(mcp_url, headers={**preflight, "Origin": "https://evil.example"})
    for response in (get, delete):
        assert response.status_code == 405 and response.headers["Allow"] == "POST, OPTIONS"
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://allowed.example"
    assert allowed.headers["Access-Control-Allow-Headers"] == asked
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert other.status_code == 204
    assert not any(name.lower().startswith("access-control-allow") for name in other.headers)


@pytest.mark.parametrize("era", ["handshake", "modern"])
def test_a_call_is_one_json_object_or_an_sse_stream_as_the_client_accepts(mcp_url, era):
    call = {"name": "blurb", "arguments": {"product": "Kettle"}}
    message, headers = modern("tools/call", **call) if era == "modern" else (rpc("tools/call", **call), {})
    message["params"].setdefault("_meta", {})["progressToken"] = "p1"
    as_json = post(mcp_url, message, headers, accept="application/json")
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json()["result"]["content"][0]["text"].startswith("Meet Kettle.")
    as_sse = post(mcp_url, message, headers, accept="application/json, text/event-stream")
    assert as_sse.headers["content-type"].startswith("text/event-stream")
    assert as_sse.headers["Cache-Control"] == "no-cache" and as_sse.headers["X-Accel-Buffering"] == "no"
    assert "\nid:" not in as_sse.text and not as_sse.text.startswith("id:")
    messages = sse_messages(as_sse.text)
    assert [m["method"] for m in messages[:-1]] == ["notifications/progress"]  # "answering", once
    assert messages[0]["params"] == {"progressToken": "p1", "progress": 1, "message": "answering"}
    assert messages[-1]["id"] == 1 and messages[-1]["result"] == as_json.json()["result"]


def test_a_clients_response_is_202_and_probes_get_empty_lists(mcp_url):
    assert post(mcp_url, {"jsonrpc": "2.0", "id": 9, "result": {}}).status_code == 202
    assert post(mcp_url, {"jsonrpc": "2.0", "id": 9, "error": {"code": 1, "message": "no"}}).status_code == 202
    assert post(mcp_url, {"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
    assert post(mcp_url, rpc("prompts/list")).json()["result"] == {"prompts": []}
    assert post(mcp_url, rpc("resources/list")).json()["result"] == {"resources": []}
    assert post(mcp_url, rpc("resources/templates/list")).json()["result"] == {"resourceTemplates": []}
    unknown = post(mcp_url, rpc("completion/complete"))
    assert unknown.status_code == 200 and unknown.json()["error"]["code"] == -32601


def test_what_is_not_json_rpc_is_400(mcp_url):
    with httpx2.Client(timeout=30) as http:
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        broken = http.post(mcp_url, content=b"{not json", headers=headers)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == -32700
    for message in ({"id": 1, "method": "ping"}, "ping", 42):
        response = post(mcp_url, message)
        assert response.status_code == 400 and response.json()["error"]["code"] == -32600
    request, headers = modern("tools/list")
    request["params"] = ["not", "an", "object"]
    assert refusal(mcp_url, request, headers)[:2] == (400, -32600)


# -- 4. the demo apps: every app is a tool, every form a schema ----------------------------------------------------


def expected_property(field: Field) -> dict[str, Any]:
    """What a tool's schema must say of one input of the form, written out from the form itself."""
    if field.kind in ("text-input", "paragraph", "select"):
        prop: dict[str, Any] = {"type": "string"}
        if field.kind == "select":
            prop["enum"] = list(field.options)
        if field.max_length:
            prop["maxLength"] = field.max_length
    elif field.kind == "number":
        prop = {"type": "number"}
    elif field.kind == "checkbox":
        prop = {"type": "boolean"}
    else:
        file = {
            "type": "object",
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "data": {"type": "string", "contentEncoding": "base64"},
                "mimeType": {"type": "string"},
                "name": {"type": "string"},
            },
        }
        about = "A file: its url (Dify fetches it), or its content as base64 data with its mimeType and name."
        if field.kind == "file":
            return {**file, "description": f"{field.label}. {about}"}
        prop = {"type": "array", "items": {**file, "description": about}}
        if field.max_length:
            prop["maxItems"] = field.max_length
    prop["description"] = field.label
    if field.form_default not in (None, ""):
        prop["default"] = field.form_default
    return prop


def expected_schema(app: DemoApp) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = [field.variable for field in app.fields if field.required]
    if app.takes_query:
        properties["query"] = {"type": "string", "description": "The message to the app."}
        properties["conversation_id"] = {
            "type": "string",
            "description": "Go on with an earlier conversation: the conversation_id a previous call returned.",
        }
        required.insert(0, "query")
    properties |= {field.variable: expected_property(field) for field in app.fields}
    return {"type": "object", "properties": properties} | ({"required": required} if required else {})


@pytest.mark.parametrize("mode", [MODERN, "legacy"])
def test_every_tool_schema_says_what_its_apps_form_says(mcp_url, mode):
    listed = run(mcp_url, lambda client: client.list_tools(), mode=mode)
    tools = {tool.name: tool for tool in listed.tools}
    assert list(tools) == [app.slug for app in DEMO_APPS]
    for app in DEMO_APPS:
        tool = tools[app.slug]
        assert tool.input_schema == expected_schema(app), app.slug
        assert tool.title == app.slug and tool.output_schema is None
        assert tool.description == (app.opening_statement or f"Dify {app.path} app {app.slug}.")
    # spelled out once, for a reader: the outline's topic and sources
    outline = tools["outline"].input_schema
    assert outline["properties"]["topic"] == {"type": "string", "maxLength": 80, "description": "Topic"}
    assert outline["properties"]["sources"]["maxItems"] == 3
    assert "conversation_id" not in outline["properties"] and "query" not in outline["properties"]


def expected_answer(slug: str, result) -> None:
    text = result.content[0].text
    if slug == "chatbot":
        assert text.startswith("Hello Ada! This is turn 1 of our conversation. You said: “Hello there”.")
    elif slug == "agent":
        assert text.startswith("The weather tool says it is sunny and 21 °C in Lisbon, so no umbrella needed.")
    elif slug == "chatflow":
        assert text.startswith("On the pro plan, here is my answer to “How do I upgrade?”")
    elif slug == "outline":
        assert text.splitlines() == [
            "Outline for “Green tea” (playful tone, 2 sections):",
            "1. Green tea: the origin story",
            "2. Things nobody tells you about Green tea",
            "",
            "Summary: 2 sections that take a reader from zero to Green tea fan.",
        ]
        assert result.structured_content == {"text": text}
    else:
        assert text == (
            "Meet Solar kettle: boils water with sunlight. Solar kettle is made for people who want things done "
            "simply and well."
        )
        assert result.structured_content is None and len(result.content) == 1
    if APPS[slug].takes_query:
        conversation = result.structured_content["conversation_id"]
        assert re.fullmatch(r"[0-9a-f-]{36}", conversation)
        assert json.loads(result.content[-1].text) == {"conversation_id": conversation}
    if APPS[slug].takes_query or slug == "outline":
        assert json.loads(result.content[-1].text) == result.structured_content


def test_every_demo_app_answers_through_its_tool(mcp_url):
    async def work(client):
        return {slug: await client.call_tool(slug, arguments) for slug, arguments in SAMPLE_ARGUMENTS.items()}

    results = run(mcp_url, work)
    assert set(results) == set(APPS)
    for slug, result in results.items():
        assert not result.is_error, (slug, result.content)
        expected_answer(slug, result)


def test_a_conversation_goes_on_with_the_id_a_call_returned(mcp_url):
    async def work(client):
        first = await client.call_tool("chatbot", {"query": "hello"})
        conversation = first.structured_content["conversation_id"]
        again = await client.call_tool("chatbot", {"query": "again", "conversation_id": conversation})
        return again

    assert "turn 2 of our conversation" in run(mcp_url, work).content[0].text


def test_a_failed_run_is_a_tool_error_not_a_protocol_error(mcp_url):
    result = run(mcp_url, lambda client: client.call_tool("chatbot", {"query": "quota"}))
    assert result.is_error and "quota" in result.content[0].text.lower()
    missing = run(mcp_url, lambda client: client.call_tool("outline", {}))
    assert missing.is_error and "topic" in missing.content[0].text
    failed = run(mcp_url, lambda client: client.call_tool("outline", {"topic": "fail"}))
    assert failed.is_error and failed.structured_content is None


def test_a_file_reaches_the_apps_file_input(mcp_url):
    data = base64.b64encode(b"Line one of the file\nline two").decode()
    arguments = {"topic": "Green tea", "attachment": {"data": data, "mimeType": "text/plain", "name": "brief.txt"}}
    result = run(mcp_url, lambda client: client.call_tool("outline", arguments))
    assert not result.is_error
    assert "Attachment: brief.txt (29 bytes, text/plain), first line: “Line one of the file”" in result.content[0].text
    by_url = {"topic": "tea", "attachment": {"url": "https://files.example/brief.txt"}}
    result = run(mcp_url, lambda client: client.call_tool("outline", by_url))
    assert "Reached maximum retries (3) for URL https://files.example/brief.txt" in result.content[0].text
    assert result.is_error  # Dify cannot reach that address: the tool says so, and the app did not run


# -- 5. what Dify rarely sends, through a plugin with scripted apps ------------------------------------------------

SCRIPTED = "c1000000-0000-4000-8000-000000000001"
SCRIPTED_FLOW = "c1000000-0000-4000-8000-000000000002"
SILENT = "c1000000-0000-4000-8000-000000000003"
OBJECTS = "c1000000-0000-4000-8000-000000000004"
NAMELESS = "c1000000-0000-4000-8000-000000000005"
KEEPALIVE_SECONDS = 0.2
SCRIPTED_SETTINGS = {
    "allowed_apps": (
        f"chat:scripted={SCRIPTED}, workflow:flow={SCRIPTED_FLOW}, chat:silent={SILENT}, "
        f"workflow:objects={OBJECTS}, {NAMELESS}"
    )
}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name"],
}
OBJECT_FORM = [
    {"json_object": {"variable": "person", "label": "Person", "type": "json_object", "json_schema": PERSON}},
    {"json_object": {"variable": "extra", "label": "Extra", "type": "json_object", "required": False}},
]
COMMON = {"conversation_id": "conv-1", "message_id": "m-1"}
HOSTILE_EVENTS = [
    {"event": "message", "answer": "a", "metadata": {"usage": ["not", "a", "dict"]}, **COMMON},
    {"event": "node_finished", "data": {"title": ["t"], "elapsed_time": 10**400, "status": ["x"]}},
    {"event": "workflow_finished", "data": {"outputs": [1], "elapsed_time": 1e308 * 10, "status": {}}},
    {"event": "agent_thought", "tool": {"not": "a name"}},
    {"event": {"unhashable": True}},
    {"event": "message", "answer": ["not", "text"]},
    {"event": "message_end", "metadata": {"usage": {"total_tokens": {"x": 1}}}, **COMMON},
]


class ScriptedApps:
    """Apps that play what a test puts in ``script``, stay silent until ``gate`` opens, or take objects."""

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.gate = threading.Event()
        self.calls: list[dict[str, Any]] = []

    def invoke_app(self, request: dict[str, Any]) -> Any:
        self.calls.append(request)
        if request["app_id"] == SILENT:
            return self._silent()
        if request["app_id"] == OBJECTS:
            outputs = {"received": request.get("inputs")}
            return [{"event": "workflow_finished", "data": {"status": "succeeded", "outputs": outputs}}]
        return list(self.script)

    def fetch_app(self, app_id: str) -> dict[str, Any]:
        form = OBJECT_FORM if app_id == OBJECTS else []
        return {"opening_statement": "", "user_input_form": form}

    def _silent(self) -> Iterator[dict[str, Any]]:
        self.gate.wait(timeout=30)  # nothing at all until the test opens the gate: not even a first event
        yield {"event": "message", "answer": "at last", **COMMON}
        yield {"event": "message_end", "metadata": {}, **COMMON}


@pytest.fixture(scope="module")
def scripted() -> ScriptedApps:
    return ScriptedApps()


@pytest.fixture(scope="module")
def plugin(scripted: ScriptedApps) -> Iterator[PluginProcess]:
    process = PluginProcess(ROOT, scripted, env={"APP_RELAY_KEEPALIVE_SECONDS": str(KEEPALIVE_SECONDS)})
    process.start()
    yield process
    process.stop()


@pytest.fixture
def still_serving(plugin):
    yield
    assert plugin.alive, "the plugin process died"
    assert plugin.max_line_bytes < 1024 * 1024


def call(plugin, name: str, arguments: dict[str, Any], accept: str):
    message = rpc("tools/call", name=name, arguments=arguments, _meta={"progressToken": 7})
    headers = {"Content-Type": "application/json", "Accept": accept}
    return plugin.request(
        "POST", "/mcp", headers=headers, body=json.dumps(message).encode(), settings=SCRIPTED_SETTINGS
    )


def result_of(response) -> dict[str, Any]:
    """The ``tools/call`` result, from a JSON answer or as the last message of a stream."""
    text = response.text()
    assert response.status == 200 and response.error is None
    for leak in ("Traceback", 'File "', ".py", "site-packages"):
        assert leak not in text
    if response.header("Content-Type").startswith("text/event-stream"):
        messages = sse_messages(text)
        assert all(message.get("method") == "notifications/progress" for message in messages[:-1])
        return messages[-1]["result"]
    return json.loads(text)["result"]


ACCEPTS = {"json": "application/json", "sse": "application/json, text/event-stream"}


def test_tools_list_leaves_out_apps_listed_without_a_name(plugin, still_serving):
    body = json.dumps(rpc("tools/list")).encode()
    response = plugin.request(
        "POST", "/mcp", headers={"Content-Type": "application/json"}, body=body, settings=SCRIPTED_SETTINGS
    )
    names = [tool["name"] for tool in response.json()["result"]["tools"]]
    assert names == ["scripted", "flow", "silent", "objects"]  # not the app listed by its id alone


def test_a_json_object_input_takes_the_apps_schema_and_reaches_the_app(plugin, scripted, still_serving):
    body = json.dumps(rpc("tools/list")).encode()
    listed = plugin.request(
        "POST", "/mcp", headers={"Content-Type": "application/json"}, body=body, settings=SCRIPTED_SETTINGS
    ).json()["result"]["tools"]
    schema = next(tool for tool in listed if tool["name"] == "objects")["inputSchema"]
    assert schema == {
        "type": "object",
        "properties": {
            "person": {**PERSON, "description": "Person"},
            "extra": {"type": "object", "description": "Extra"},
        },
    }
    person = {"name": "Ada", "age": 36, "tags": ["math"]}
    result = result_of(call(plugin, "objects", {"person": person}, ACCEPTS["json"]))
    assert scripted.calls[-1]["inputs"] == {"person": person}
    assert result["structuredContent"] == {"received": {"person": person}}


@pytest.mark.parametrize("accept", ACCEPTS)
def test_hostile_events_end_as_a_tool_result(plugin, scripted, still_serving, accept):
    scripted.script = HOSTILE_EVENTS
    result = result_of(call(plugin, "scripted", {"query": "hi"}, ACCEPTS[accept]))
    assert result["isError"] is False
    assert result["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": '{"conversation_id":"conv-1"}'},
    ]
    scripted.script = [{"event": "workflow_finished", "data": {"status": "succeeded", "outputs": {"n": 1e308 * 10}}}]
    workflow = result_of(call(plugin, "flow", {}, ACCEPTS[accept]))
    assert workflow["structuredContent"] == {"n": None}  # JSON has no infinity: the answer stays readable


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("unreadable", [42, ["not", "an", "object"], "a string"], ids=["number", "list", "string"])
def test_an_event_the_sdk_cannot_read_ends_the_call_as_a_tool_error(
    plugin, scripted, still_serving, accept, unreadable
):
    scripted.script = [{"event": "message", "answer": "a", **COMMON}, unreadable]
    result = result_of(call(plugin, "scripted", {"query": "hi"}, ACCEPTS[accept]))
    assert result["isError"] is True
    assert result["content"] == [{"type": "text", "text": GENERIC_FAILURE}]


@pytest.mark.parametrize("accept", ACCEPTS)
def test_a_stream_cut_short_is_a_tool_error_that_says_so(plugin, scripted, still_serving, accept):
    scripted.script = [{"event": "message", "answer": "half an ans", **COMMON}]
    result = result_of(call(plugin, "scripted", {"query": "hi"}, ACCEPTS[accept]))
    assert result == {"content": [{"type": "text", "text": TRUNCATED}], "isError": True}
    scripted.script = [{"event": "workflow_started", "data": {}}, {"event": "text_chunk", "data": {"text": "x"}}]
    assert result_of(call(plugin, "flow", {}, ACCEPTS[accept]))["content"][0]["text"] == TRUNCATED


def test_a_silent_app_gets_keep_alives_before_its_first_event(plugin, scripted, still_serving):
    scripted.gate.clear()
    response = call(plugin, "silent", {"query": "hi"}, ACCEPTS["sse"])
    assert response.status == 200 and response.header("Content-Type").startswith("text/event-stream")
    chunks = response.chunks(timeout=10)
    seen = [next(chunks), next(chunks)]  # the app has said nothing yet: only keep-alives can come
    assert seen[0] == b": keep-alive\n\n"  # at once: the interval went by before the stream began
    assert seen[1] == b": keep-alive\n\n"
    scripted.gate.set()
    body = (b"".join(seen) + b"".join(chunks)).decode()
    messages = sse_messages(body)
    assert messages[0]["params"]["message"] == "answering"
    assert messages[-1]["result"]["content"][0]["text"] == "at last"
