"""The MCP wire: which era answers a message, the 2026-07-28 checks in their order, the framing, the identity."""

import base64
import json

import pytest
from werkzeug.datastructures import Headers

from relay.mcp_server import identity
from relay.mcp_server.modern import Era, check_notification, check_request, era_of, finish
from relay.mcp_server.progress import MAX_NOTE_CHARS, ProgressNotes
from relay.mcp_server.protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    SERVER_INFO_META,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_PROTOCOL_VERSION,
    dumps,
    sse,
)

MODERN = "2026-07-28"
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


def request(method="tools/list", meta=ENVELOPE, **params):
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"_meta": meta, **params}}


def headers(version=MODERN, method="tools/list", name=None):
    found = Headers({"MCP-Protocol-Version": version, "Mcp-Method": method})
    if name is not None:
        found["Mcp-Name"] = name
    return found


@pytest.mark.parametrize(
    ("header", "message", "era"),
    [
        (MODERN, {"method": "tools/list"}, Era.MODERN),
        ("2025-06-18", request(), Era.HANDSHAKE),
        (None, {"method": "initialize", "params": {"protocolVersion": "2025-03-26"}}, Era.HANDSHAKE),
        (None, request("initialize"), Era.HANDSHAKE),  # initialize always opens a handshake
        (None, request(), Era.MODERN),  # then the missing header is what the checks report
        (None, {"method": "ping"}, Era.HANDSHAKE),
        ("2099-01-01", request(), Era.MODERN),  # the checks name the version it does not speak
        ("2024-11-05", {"method": "ping"}, None),
    ],
)
def test_the_version_header_and_the_envelope_choose_the_era(header, message, era):
    assert era_of(header, message) is era


@pytest.mark.parametrize(
    ("message", "found", "code"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers(), INVALID_PARAMS),
        (request(meta={"io.modelcontextprotocol/protocolVersion": MODERN}), headers(), INVALID_PARAMS),
        # the envelope comes first: even a wrong header is reported as a missing envelope
        (request(meta={}), headers(method="tools/call"), INVALID_PARAMS),
        (request(), Headers({"Mcp-Method": "tools/list"}), HEADER_MISMATCH),
        (request(), headers(method="tools/call"), HEADER_MISMATCH),
        (request(), headers(version="2025-11-25"), HEADER_MISMATCH),
        (request("tools/call", name="outline"), headers(method="tools/call", name="other"), HEADER_MISMATCH),
        (request("tools/call", name="outline"), headers(method="tools/call", name="=?base64?!!?="), HEADER_MISMATCH),
        # the headers are compared before the version is looked at
        (
            request(meta={**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}),
            headers(),
            HEADER_MISMATCH,
        ),
        (
            request(meta={**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}),
            headers(version="2099-01-01"),
            UNSUPPORTED_PROTOCOL_VERSION,
        ),
    ],
)
def test_a_modern_request_is_checked_in_the_specifications_order(message, found, code):
    refused = check_request(found, message)
    assert refused is not None and refused.code == code


def test_a_modern_request_that_agrees_with_its_headers_passes():
    assert check_request(headers(), request()) is None
    encoded = "=?base64?" + base64.b64encode("thé".encode()).decode() + "?="
    assert check_request(headers(method="tools/call", name=encoded), request("tools/call", name="thé")) is None
    assert check_request(headers(method="tools/call", name="outline"), request("tools/call", name="outline")) is None


def test_an_unsupported_version_is_named_with_every_version_spoken():
    message = request(meta={**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2099-01-01"})
    refused = check_request(headers(version="2099-01-01"), message)
    assert refused.data == {"supported": list(SUPPORTED_VERSIONS), "requested": "2099-01-01"}
    assert "'2099-01-01'" in refused.message
    assert check_notification(headers()) is None
    assert check_notification(Headers({"MCP-Protocol-Version": "2099-01-01"})).code == UNSUPPORTED_PROTOCOL_VERSION


def test_a_modern_result_is_complete_signed_and_lists_say_how_long_to_cache_them():
    listed = finish("tools/list", {"tools": []})
    assert listed == {
        "tools": [],
        "resultType": "complete",
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": {SERVER_INFO_META: identity.SERVER_INFO},
    }
    called = finish("tools/call", {"content": [], "isError": False})
    assert called["resultType"] == "complete" and "ttlMs" not in called and SERVER_INFO_META in called["_meta"]


def test_numbers_json_cannot_spell_become_null_and_sse_frames_carry_no_id():
    assert json.loads(dumps({"a": [float("inf"), 1.5, float("nan")], "b": "é"})) == {"a": [None, 1.5, None], "b": "é"}
    assert "é" in dumps("é")
    frame = sse({"jsonrpc": "2.0", "method": "x", "params": {"v": float("-inf")}})
    assert frame == b'event: message\ndata: {"jsonrpc":"2.0","method":"x","params":{"v":null}}\n\n'


def test_the_server_names_itself_after_the_manifest(tmp_path):
    assert identity.server_info() == identity.SERVER_INFO
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("name: my_plugin\nversion: 1.2.3\nlabel:\n  en_US: My Plugin\n", encoding="utf-8")
    assert identity.server_info(manifest) == {"name": "my_plugin", "title": "My Plugin", "version": "1.2.3"}
    manifest.write_text("version: 1.0\nlabel: none\n", encoding="utf-8")  # YAML reads 1.0 as a number
    assert identity.server_info(manifest) == {"name": "app_relay", "title": "App Relay", "version": "1.0"}
    manifest.write_text("version: [unclosed\n", encoding="utf-8")
    assert identity.server_info(manifest)["version"] == "unknown"
    assert identity.server_info(tmp_path / "missing.yaml")["version"] == "unknown"


def test_the_installed_manifest_gives_the_version():
    import yaml

    declared = yaml.safe_load((identity.MANIFEST).read_text(encoding="utf-8"))["version"]
    assert identity.SERVER_INFO["version"] == str(declared)


def test_progress_says_each_step_and_otherwise_only_what_changed():
    notes = ProgressNotes()
    events = [
        {"event": "workflow_started", "data": {}},
        {"event": "node_finished", "data": {"title": "Start", "status": "succeeded"}},
        *[{"event": "text_chunk", "data": {"text": "word "}} for _ in range(50)],
        {"event": "node_finished", "data": {"title": "LLM", "status": "succeeded"}},
        {"event": "node_finished", "data": {"title": "LLM", "status": "succeeded"}},  # a loop runs it again
        {"event": "agent_thought", "tool": ""},
        {"event": "agent_thought", "tool": "weather"},
        {"event": "agent_thought", "tool": "weather"},
        {"event": "message", "answer": "It is sunny"},
        {"event": "message_end"},
        "not an event",
    ]
    said = [note for note in map(notes.note, events) if note is not None]
    assert said == [
        "started",
        "Start succeeded",
        "answering",
        "LLM succeeded",
        "LLM succeeded",
        "using weather",
        "answering",
    ]


def test_progress_notes_quote_the_apps_names_briefly_and_only_as_text():
    notes = ProgressNotes()
    assert notes.note({"event": "node_finished", "data": {"title": ["x"], "status": {}}}) == "A step finished"
    assert notes.note({"event": "node_finished", "data": {"node_type": "llm"}}) == "llm finished"
    long = notes.note({"event": "node_finished", "data": {"title": "t" * 10_000, "status": "failed"}})
    assert long == "t" * MAX_NOTE_CHARS + " failed"
    assert notes.note({"event": "agent_thought", "tool": {"name": "x"}}) is None
