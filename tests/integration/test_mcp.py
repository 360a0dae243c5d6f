"""The MCP surface, driven by the official ``mcp`` client (Streamable HTTP), unmodified, against the local daemon
and the demo apps: the real plugin process behind the HTTP side Dify's daemon would be."""

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from devkit.demo.apps import DEMO_APPS, DEMO_SETTINGS, DemoApps
from devkit.serve import create_server

ROOT = Path(__file__).resolve().parents[2]
KEY = "mcp-test-key"
SETTINGS = {**DEMO_SETTINGS, "api_key": KEY, "cors_allowed_origins": "https://allowed.example"}


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    server = create_server(
        ROOT, DemoApps(token_delay=0.01), settings=SETTINGS, console=lambda _: None, plugin_log=lambda _: None
    )
    server.serve_in_background()
    try:
        yield f"{server.endpoint_url}/mcp"
    finally:
        server.close()


def run(mcp_url: str, work, key: str = KEY):
    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
        async with http, Client(streamable_http_client(mcp_url, http_client=http)) as client:
            return await work(client)

    return asyncio.run(main())


def test_every_named_app_is_a_tool_with_a_schema_from_its_form(mcp_url):
    listed = run(mcp_url, lambda client: client.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == {app.slug for app in DEMO_APPS}
    for app in DEMO_APPS:
        schema = tools[app.slug].input_schema
        visible = [field for field in app.fields]
        assert {field.variable for field in visible} <= set(schema["properties"])
        assert ("query" in schema.get("required", [])) is app.takes_query
    attachment = tools["outline"].input_schema["properties"]["attachment"]
    assert attachment["type"] == "object" and {"url", "data", "mimeType", "name"} <= set(attachment["properties"])
    outline = tools["outline"].input_schema
    assert outline["required"] == ["topic"]
    assert outline["properties"]["topic"] == {"type": "string", "maxLength": 80, "description": "Topic"}
    assert outline["properties"]["tone"]["enum"] == ["friendly", "formal", "playful"]
    assert outline["properties"]["sections"]["type"] == "number"
    assert outline["properties"]["with_summary"]["type"] == "boolean"
    assert tools["chatbot"].description.startswith("Hi! I am the devkit's demo chatbot")


def test_calling_a_chat_app_returns_its_answer_and_conversation(mcp_url):
    async def work(client):
        first = await client.call_tool("chatbot", {"query": "hello"})
        conversation = first.structured_content["conversation_id"]
        again = await client.call_tool("chatbot", {"query": "again", "conversation_id": conversation})
        return first, again

    first, again = run(mcp_url, work)
    assert not first.is_error and "turn 1 of our conversation" in first.content[0].text
    assert "turn 2 of our conversation" in again.content[0].text


def test_calling_a_workflow_returns_its_outputs_and_reports_progress(mcp_url):
    notes = []

    async def progress(value, total, message):
        notes.append(message)

    result = run(
        mcp_url,
        lambda client: client.call_tool("outline", {"topic": "Green tea"}, progress_callback=progress),
    )
    assert not result.is_error
    assert "Green tea" in json.dumps(result.structured_content)
    assert any("succeeded" in (note or "") for note in notes)  # node by node, while the workflow ran


def test_a_failed_run_is_a_tool_error_not_a_protocol_error(mcp_url):
    result = run(mcp_url, lambda client: client.call_tool("chatbot", {"query": "quota"}))
    assert result.is_error and "quota" in result.content[0].text.lower()
    missing = run(mcp_url, lambda client: client.call_tool("outline", {}))
    assert missing.is_error and "topic" in missing.content[0].text


def test_an_unknown_tool_is_a_protocol_error(mcp_url):
    with pytest.raises(BaseExceptionGroup) as caught:  # the client raises it from its task group
        run(mcp_url, lambda client: client.call_tool("nobody", {}))
    assert caught.group_contains(MCPError, match="Unknown tool 'nobody'")


def test_the_key_and_the_origin_are_checked(mcp_url):
    with pytest.raises(BaseExceptionGroup) as refused_key:
        run(mcp_url, lambda client: client.list_tools(), key="wrong")
    assert refused_key.group_contains(MCPError, match="api key is not valid")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", "Accept": "application/json"}
    with httpx2.Client() as http:
        refused = http.post(mcp_url, content=body, headers={**headers, "Origin": "https://evil.example"})
        allowed = http.post(mcp_url, content=body, headers={**headers, "Origin": "https://allowed.example"})
        old = http.post(mcp_url, content=body, headers={**headers, "MCP-Protocol-Version": "2024-11-05"})
        get = http.get(mcp_url, headers=headers)
        notification = http.post(
            mcp_url, content=b'{"jsonrpc": "2.0", "method": "notifications/initialized"}', headers=headers
        )
        probe = http.post(
            mcp_url,
            content=json.dumps({"jsonrpc": "2.0", "id": 2, "method": "resources/list"}).encode(),
            headers=headers,
        )
    assert refused.status_code == 403
    assert allowed.status_code == 200 and allowed.json()["result"] == {}
    assert old.status_code == 400
    assert get.status_code == 405
    assert notification.status_code == 202
    assert probe.json()["result"] == {"resources": []}


def test_a_file_reaches_the_apps_file_input(mcp_url):
    data = base64.b64encode(b"Line one of the file\nline two").decode()
    arguments = {"topic": "Green tea", "attachment": {"data": data, "mimeType": "text/plain", "name": "brief.txt"}}
    result = run(mcp_url, lambda client: client.call_tool("outline", arguments))
    assert not result.is_error
    assert "Attachment: brief.txt (29 bytes, text/plain), first line: “Line one of the file”" in result.content[0].text
    by_url = {"topic": "tea", "attachment": {"url": "https://files.example/brief.txt"}}
    result = run(mcp_url, lambda client: client.call_tool("outline", by_url))
    assert "Attachment by URL: https://files.example/brief.txt" in result.content[0].text
