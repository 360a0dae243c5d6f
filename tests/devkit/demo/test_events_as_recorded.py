"""The demo apps' chatflow and workflow events have the keys real Dify 1.16.0-rc1 sent, in its order.

The recording (``tests/fixtures/real_dify``) has chatflows and workflows without a model: for every kind of event
it holds, the demo's first event of that kind must carry the same keys in the same order, at the top, in ``data``
and in ``metadata`` and its ``usage``. The events the recording lacks (model nodes' own, easy-UI apps') are not
held to it. The templates the demo fills in (``devkit/demo/dify_events.json``) hold the recorded events verbatim.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from devkit.demo import events as ev
from devkit.demo.apps import CHATFLOW_APP_ID, WORKFLOW_APP_ID, DemoApps
from tests.real_dify.recording import load

CASES = load()
TEMPLATES_FILE = Path(__file__).resolve().parents[3] / "devkit" / "demo" / "dify_events.json"
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


def first_of_each_kind() -> dict[str, Any]:
    """What ``devkit/demo/dify_events.json`` takes from the recording: the first event of each kind, the first
    blocking answers (a chat app's, a workflow's) and the first file, in recording order."""
    found: dict[str, Any] = {}

    def files(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("dify_model_identity") == ev.FILE_MODEL_IDENTITY:
                found.setdefault("remote file", value)
            for item in value.values():
                files(item)
        elif isinstance(value, list):
            for item in value:
                files(item)

    for case in CASES.values():
        for event in case.events:
            name = event.get("event")
            if len(case.events) == 1:  # a blocking call's one answer
                name = "blocking chat" if name else "blocking workflow"
            found.setdefault(name, event)
            files(event)
    return found


def test_the_recorded_templates_are_the_recording_s_own_events_verbatim():
    recorded = json.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))["recorded"]
    expected = first_of_each_kind()
    assert list(recorded) == list(expected)
    for kind, template in recorded.items():  # key order included, at every depth
        assert json.dumps(template) == json.dumps(expected[kind]), kind


def test_every_template_is_a_whole_event_of_its_kind_and_the_rest_are_dify_s_other_answers():
    others = {"blocking chat": "message", "blocking workflow": None, "remote file": None, "tool file": None}
    others["app parameters"] = None
    for kind, template in ev.TEMPLATES.items():
        assert template.get("event") == others.get(kind, kind)


def test_filling_a_template_keeps_its_keys_in_order_and_refuses_a_key_it_lacks():
    run = ev.Run(mode="workflow", workflow_id="wf", app_id="app")
    started = ev.event(run, "node_started", {"id": "n1", "index": 3})
    assert list(started) == ["event", "workflow_run_id", "task_id", "data"]
    assert list(started["data"]) == list(ev.TEMPLATES["node_started"]["data"])
    assert (started["data"]["id"], started["data"]["index"], started["task_id"]) == ("n1", 3, run.task_id)
    with pytest.raises(KeyError, match="not in the template"):
        ev.event(run, "node_started", {"no_such_key": 1})
    with pytest.raises(KeyError, match="not in the template"):
        ev.event(run, "message", no_such_key=1)


def dumps(value: Any, indent: int = 0, key: int = 0) -> str:
    """The templates file's JSON: a container on one line when it fits in 118 columns, else one item a line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent + key <= 118 or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 2, len(json.dumps(k)) + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(pad + dumps(item, indent + 2) for item in value) + "\n" + " " * indent + "]"


def test_the_templates_file_is_written_as_its_extraction_writes_it():
    text = TEMPLATES_FILE.read_text(encoding="utf-8")
    assert text == dumps(json.loads(text)) + "\n"


if __name__ == "__main__":  # after a new recording: python -m tests.devkit.demo.test_events_as_recorded
    document = json.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))
    document["recorded"] = first_of_each_kind()
    TEMPLATES_FILE.write_text(dumps(document) + "\n", encoding="utf-8")
