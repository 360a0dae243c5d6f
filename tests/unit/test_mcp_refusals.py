"""MCP refusals before any JSON-RPC: the HTTP status, and which refusal in ``error.data.code``."""

import json

import relay.mcp_server
from tests.unit.conftest import FakeSession, make_request, stream_of


def answer(settings, headers=None):
    request = make_request("/mcp", "POST", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)
    response = relay.mcp_server.serve(FakeSession(stream_of()), request, {}, settings)
    return response.status_code, json.loads(b"".join(response.response))


def test_a_malformed_setting_is_named_and_coded():
    # Found by make fuzz: the code was missing, so a client could not tell a setting to fix from a bad request.
    status, body = answer({"allowed_apps": "hi"})
    assert status == 500 and body["error"]["data"] == {"code": "endpoint_misconfigured"}
    assert "'hi'" in body["error"]["message"]


def test_an_endpoint_not_set_up_and_a_missing_key_say_so():
    assert answer({})[1]["error"]["data"]["code"] == "endpoint_not_configured"
    status, body = answer({"allowed_apps": "*", "api_key": "k"})
    assert status == 401 and body["error"]["data"]["code"] == "unauthorized"
    assert answer({"allowed_apps": "*", "api_key": "k"}, {"Authorization": "Bearer k"})[1]["result"] == {}
