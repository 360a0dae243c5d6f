"""``make run`` end to end: the relay plugin of this repository behind the devkit server, with the demo apps.

Assertions stick to the HTTP contract (the README), not to the plugin's internals. A plugin that cannot start
fails these tests with its error: a skip would hide exactly the failure ``make run`` would meet.
"""

import json
from collections.abc import Iterator

import pytest

from devkit.daemon.server import DevDaemonServer
from devkit.demo.apps import CHATBOT_APP_ID, COMPLETION_APP_ID, MARKUP_SAMPLE, WORKFLOW_APP_ID, DemoApps
from devkit.serve import create_server
from tests.devkit.conftest import ROOT, call

UNKNOWN_APP_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def relay() -> Iterator[DevDaemonServer]:
    server = create_server(
        # Every app by id, untyped: these tests are about what Dify says, not about what the endpoint opens.
        ROOT,
        DemoApps(token_delay=0),
        settings={"allowed_apps": "*"},
        console=lambda _: None,
        plugin_log=lambda _: None,
    )
    server.serve_in_background()
    yield server
    server.close()


def url(relay, path):
    return f"/e/{relay.hook_id}{path}"


def error_of(reply):
    body = json.loads(reply.body)
    return reply.status, body["error"]["code"], body["error"]["message"]


def test_a_chat_answer_streams_as_ndjson(relay):
    reply = call(relay, "GET", url(relay, f"/chat/{CHATBOT_APP_ID}?query=hello"))
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/x-ndjson"
    events = [json.loads(line) for line in reply.body.splitlines()]
    assert events[0]["event"] == "message" and events[-1]["event"] == "message_end"
    assert "hello" in "".join(event.get("answer", "") for event in events)


def test_a_workflow_runs_with_inputs_from_the_query_string(relay):
    reply = call(relay, "GET", url(relay, f"/workflow/{WORKFLOW_APP_ID}?inputs.topic=tea&format=json"))
    assert reply.status == 200
    assert "tea" in json.loads(reply.body)["data"]["outputs"]["text"]


def test_a_completion_app_is_said_to_be_out_of_a_plugins_reach(relay):
    body = json.dumps({"inputs": {"product": "Solar kettle"}})
    reply = call(
        relay,
        "POST",
        url(relay, f"/completion/{COMPLETION_APP_ID}"),
        body=body,
        headers={"Content-Type": "application/json"},
    )
    # Dify 1.16 fails every completion call of a plugin with its generic 500: the client is told so, and not to retry.
    assert reply.status == 502
    error = json.loads(reply.body)["error"]
    assert error["code"] == "app_type_unsupported" and "workflow app" in error["message"]


def test_dify_s_errors_reach_the_client(relay):
    assert error_of(call(relay, "GET", url(relay, f"/chat/{UNKNOWN_APP_ID}?query=hi"))) == (
        404,
        "app_not_found",
        "app not found",
    )
    status, code, message = error_of(call(relay, "GET", url(relay, f"/workflow/{CHATBOT_APP_ID}?inputs.a=1")))
    assert (status, code) == (400, "invalid_input") and "missing query" in message


def test_app_text_is_escaped_in_html(relay):
    reply = call(relay, "GET", url(relay, f"/chat/{CHATBOT_APP_ID}?query=markup&format=html"))
    assert reply.status == 200
    assert MARKUP_SAMPLE.encode() not in reply.body
    assert b"&lt;img src=x onerror=alert(1)&gt;" in reply.body
