"""The demo apps' chatflow and workflow events have the keys real Dify 1.16.0-rc1 sent, in its order.

The recording (``tests/fixtures/real_dify``) has chatflows and workflows without a model: for every kind of event
it holds, the demo's first event of that kind must carry the same keys in the same order, at the top, in ``data``
and in ``metadata`` and its ``usage``. The events the recording lacks (model nodes' own, easy-UI apps') are not
held to it.
"""

from typing import Any

import pytest

from devkit.demo.apps import CHATFLOW_APP_ID, WORKFLOW_APP_ID, DemoApps
from devkit.demo.recording import load

CASES = load()
RUNS = [
    ({"app_id": CHATFLOW_APP_ID, "query": "hi"}, "streaming", "chatflow stream ok"),
    ({"app_id": CHATFLOW_APP_ID, "query": "please fail"}, "streaming", "chatflow_fail stream"),
    ({"app_id": WORKFLOW_APP_ID, "inputs": {"topic": "tea"}}, "streaming", "workflow stream ok"),
    ({"app_id": WORKFLOW_APP_ID, "inputs": {"topic": "fail"}}, "streaming", "workflow fail stream"),
    ({"app_id": CHATFLOW_APP_ID, "query": "hi"}, "blocking", "chatflow blocking ok"),
    ({"app_id": WORKFLOW_APP_ID, "inputs": {"topic": "tea"}}, "blocking", "workflow blocking ok"),
]


def shapes(events: list[dict[str, Any]]) -> dict[Any, dict[str, list[str]]]:
    """The key order of each kind's first event: top level, ``data``, ``metadata`` and ``usage``."""
    found: dict[Any, dict[str, list[str]]] = {}
    for event in events:
        shape = {"event": list(event)}
        if isinstance(event.get("data"), dict):
            shape["data"] = list(event["data"])
        if isinstance(event.get("metadata"), dict):
            shape["metadata"] = list(event["metadata"])
            shape["usage"] = list(event["metadata"].get("usage") or {})
        found.setdefault(event.get("event"), shape)
    return found


@pytest.mark.parametrize(("request_", "mode", "case"), RUNS, ids=[case for _, _, case in RUNS])
def test_each_recorded_kind_of_event_has_the_recorded_keys_in_order(request_, mode, case):
    demo = DemoApps(token_delay=0)
    try:
        events = list(demo.invoke_app({"inputs": {}, **request_, "response_mode": mode}))
    finally:
        demo.files.close()
    recorded, made = shapes(list(CASES[case].events)), shapes(events)
    assert set(recorded) <= set(made)
    assert {kind: made[kind] for kind in recorded} == recorded


def test_a_chatflow_s_run_inputs_are_its_form_s_then_the_recorded_system_variables():
    demo = DemoApps(token_delay=0)
    try:
        (started, *_) = demo.invoke_app({"app_id": CHATFLOW_APP_ID, "query": "hi", "response_mode": "streaming"})
    finally:
        demo.files.close()
    recorded = CASES["chatflow stream ok"].events[0]["data"]["inputs"]
    system = [key for key in recorded if key.startswith("sys.")]
    assert list(started["data"]["inputs"]) == ["plan", *system]
    assert started["data"]["inputs"]["sys.app_id"] == CHATFLOW_APP_ID
    assert started["data"]["inputs"]["sys.workflow_run_id"] == started["workflow_run_id"]
