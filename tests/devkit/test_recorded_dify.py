"""The devkit answers every recorded call as real Dify 1.16.0-rc1 answered it (``tests/fixtures/real_dify``).

Each recorded case is replayed against ``RecordedDify`` through the real daemon stand-in and a real plugin process
(the echo plugin, whose ``/app/<kind>/<app_id>`` calls ``session.app.<kind>.invoke`` and writes each event, or
``{"error": <message>}``, as a line): what the plugin gets must be what it got from real Dify. Refusals must be the
same text byte for byte (the daemon quotes Dify's body whole); streams the same events in the same order with the
same keys and, once ids, times and durations are set aside, the same values.

The recording does not store the requests, only their description: ``CALLS`` restates each one. Cases that need
a conversation first (continuing one, or using another app's) make it with a call of their own.
"""

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from devkit.daemon.files import TENANT_ID, UPLOAD_PATH
from devkit.daemon.process import DifyError, DifyServerError, PluginProcess, dify_error_message
from tests.devkit.conftest import ECHO_PLUGIN
from tests.real_dify.player import COMPLETION_APP_ID, NO_PROVIDER, RecordedDify
from tests.real_dify.recording import load

CASES = load()
REACHABLE = "http://127.0.0.1:5303/x.txt"
UNREACHABLE = "http://127.0.0.1:5398/none.txt"
UNKNOWN_APP = "00000000-0000-4000-8000-000000000000"
UNKNOWN_TOOL_FILE = "53c4b368-22eb-4361-91ba-c2ae1f4a73f2"
"""The id the recorded "file tool_file unknown id" case sent."""

NOT_REPRODUCIBLE = {
    "wrong inner key": "the daemon's own key to Dify's inner API: a plugin cannot choose it",
    "no inner key": "the daemon always sends its inner API key: a plugin cannot leave it out",
    "unknown tenant": "the daemon sends the endpoint's own workspace: a plugin cannot name another",
}
"""Recorded cases no plugin can cause, so the devkit's app backend has nothing to answer."""


@dataclass(frozen=True)
class Call:
    """One recorded call restated: through which ``session.app`` method, to which app, with which fields."""

    kind: str
    """``chat``, ``workflow`` or ``completion`` (the SDK method), or ``fetch`` (``fetch_app``)."""
    app: str
    """A recorded app's name (``chatflow``...), or an id."""
    fields: dict[str, Any] = field(default_factory=dict)
    conversation: str | None = None
    """``"unknown"``: a UUID Dify never gave out; ``"of <app>"``: one of that app's conversations, made first."""
    upload: str | None = None
    """Where the id or link of a file the plugin uploaded first goes: ``tool_file_id``, ``reference``,
    ``upload_file_id`` or ``url``."""


def doc(**mapping: Any) -> dict[str, Any]:
    return {"text": "a", "doc": {"type": "document", **mapping}}


CALLS: dict[str, Call] = {
    "chatflow stream ok": Call("chat", "chatflow", {"query": "hello", "inputs": {"tone": "calm"}}),
    "chatflow stream continue conv": Call(
        "chat", "chatflow", {"query": "again", "inputs": {"tone": "calm"}}, conversation="of chatflow"
    ),
    "chatflow blocking ok": Call(
        "chat", "chatflow", {"query": "hello", "inputs": {"tone": "calm"}, "response_mode": "blocking"}
    ),
    # The SDK always sends ``inputs``; the backend itself is called without them below.
    "chatflow no inputs key": Call("chat", "chatflow", {"query": "hello", "response_mode": "blocking"}),
    "unknown app stream": Call("chat", UNKNOWN_APP, {"query": "hi"}),
    "unknown app blocking": Call("chat", UNKNOWN_APP, {"query": "hi", "response_mode": "blocking"}),
    "non-uuid app id": Call("chat", "not-an-app-id", {"query": "hi"}),
    "chatflow missing query (workflow-style call)": Call("workflow", "chatflow", {"response_mode": "blocking"}),
    "workflow app with query (chat-style call)": Call(
        "chat", "workflow", {"query": "hi", "inputs": {"text": "hi"}, "response_mode": "blocking"}
    ),
    "unknown conversation_id": Call("chat", "chatflow", {"query": "hi"}, conversation="unknown"),
    "unknown conversation_id blocking": Call(
        "chat", "chatflow", {"query": "hi", "response_mode": "blocking"}, conversation="unknown"
    ),
    "non-uuid conversation_id": Call("chat", "chatflow", {"query": "hi", "conversation_id": "not-a-uuid"}),
    "chatflow_fail stream": Call("chat", "chatflow_fail", {"query": "boom"}),
    "foreign conversation_id (other app's)": Call("chat", "chatflow", {"query": "hi"}, conversation="of chatflow_fail"),
    "chatflow_fail blocking": Call("chat", "chatflow_fail", {"query": "boom", "response_mode": "blocking"}),
    "user=alice stream continue conv": Call(
        "chat", "chatflow", {"query": "as alice", "user": "alice"}, conversation="of chatflow"
    ),
    "tone wrong type (number)": Call("chat", "chatflow", {"query": "hi", "inputs": {"tone": 5}}),
    "tone too long": Call("chat", "chatflow", {"query": "hi", "inputs": {"tone": "x" * 49}}),
    "workflow stream ok": Call("workflow", "workflow", {"inputs": {"text": "hi", "count": 3, "lang": "de"}}),
    "workflow blocking ok": Call(
        "workflow", "workflow", {"inputs": {"text": "hi", "count": 3, "lang": "de"}, "response_mode": "blocking"}
    ),
    "workflow missing required text": Call("workflow", "workflow", {"response_mode": "blocking"}),
    "workflow missing required text stream": Call("workflow", "workflow", {}),
    "workflow text empty string": Call("workflow", "workflow", {"inputs": {"text": ""}, "response_mode": "blocking"}),
    "workflow text null": Call("workflow", "workflow", {"inputs": {"text": None}, "response_mode": "blocking"}),
    "workflow text number": Call("workflow", "workflow", {"inputs": {"text": 5}, "response_mode": "blocking"}),
    "workflow count string abc": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "count": "abc"}, "response_mode": "blocking"}
    ),
    "workflow count numeric string": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "count": "7"}, "response_mode": "blocking"}
    ),
    "workflow count bool": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "count": True}, "response_mode": "blocking"}
    ),
    "workflow count empty": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "count": ""}, "response_mode": "blocking"}
    ),
    "workflow count dict": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "count": {}}, "response_mode": "blocking"}
    ),
    "workflow lang not in options": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "lang": "xx"}, "response_mode": "blocking"}
    ),
    "workflow extra unknown input": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "extra": "y"}, "response_mode": "blocking"}
    ),
    "workflow fail stream": Call("workflow", "workflow_fail", {}),
    "workflow fail blocking": Call("workflow", "workflow_fail", {"response_mode": "blocking"}),
    "file remote_url": Call(
        "workflow",
        "workflow",
        {"inputs": doc(transfer_method="remote_url", url=REACHABLE), "response_mode": "blocking"},
    ),
    "file remote_url unreachable": Call(
        "workflow",
        "workflow",
        {"inputs": doc(transfer_method="remote_url", url=UNREACHABLE), "response_mode": "blocking"},
    ),
    "file as plain string": Call(
        "workflow", "workflow", {"inputs": {"text": "a", "doc": "x.txt"}, "response_mode": "blocking"}
    ),
    "file wrong type image for txt": Call(
        "workflow",
        "workflow",
        {
            "inputs": {"text": "a", "doc": {"type": "image", "transfer_method": "remote_url", "url": REACHABLE}},
            "response_mode": "blocking",
        },
    ),
    "file tool_file (to_app_parameter)": Call(
        "workflow",
        "workflow",
        {"inputs": doc(transfer_method="tool_file"), "response_mode": "blocking"},
        upload="tool_file_id",
    ),
    "file local_file upload_file_id": Call(
        "workflow",
        "workflow",
        {"inputs": doc(transfer_method="local_file"), "response_mode": "blocking"},
        upload="upload_file_id",
    ),
    "file tool_file unknown id": Call(
        "workflow",
        "workflow",
        {"inputs": doc(transfer_method="tool_file", tool_file_id=UNKNOWN_TOOL_FILE), "response_mode": "blocking"},
    ),
    "fetch_app chatflow": Call("fetch", "chatflow"),
    "fetch_app workflow": Call("fetch", "workflow"),
    "fetch_app chat": Call("fetch", "chat"),
    "fetch_app agent": Call("fetch", "agent"),
    "fetch_app completion": Call("fetch", "completion"),
    "fetch_app unknown": Call("fetch", UNKNOWN_APP),
    "chat (no model) stream": Call("chat", "chat", {"query": "hi"}),
    "chat (no model) blocking": Call("chat", "chat", {"query": "hi", "response_mode": "blocking"}),
    "agent (no model) stream": Call("chat", "agent", {"query": "hi"}),
    "agent (no model) blocking": Call("chat", "agent", {"query": "hi", "response_mode": "blocking"}),
    "completion (no model) stream": Call("completion", "completion", {"inputs": {"query": "hi"}}),
    "completion (no model) blocking": Call(
        "completion", "completion", {"inputs": {"query": "hi"}, "response_mode": "blocking"}
    ),
    "file via remote_url = upload preview_url": Call(
        "workflow",
        "workflow",
        {"inputs": doc(transfer_method="remote_url"), "response_mode": "blocking"},
        upload="url",
    ),
    "file tool_file via 'reference'": Call(
        "workflow",
        "workflow",
        {"inputs": doc(transfer_method="tool_file"), "response_mode": "blocking"},
        upload="reference",
    ),
    # The conversation's first turn ran with another tone: Dify runs a turn with the inputs it is sent.
    "chatflow continue with different inputs": Call(
        "chat",
        "chatflow",
        {"query": "one", "inputs": {"tone": "first"}, "response_mode": "blocking"},
        conversation="of chatflow",
    ),
    "chat unknown conversation_id": Call("chat", "chat", {"query": "hi"}, conversation="unknown"),
    "chat non-uuid conversation_id": Call("chat", "chat", {"query": "hi", "conversation_id": "not-a-uuid"}),
    "agent unknown conversation_id": Call("chat", "agent", {"query": "hi"}, conversation="unknown"),
    "agent non-uuid conversation_id": Call("chat", "agent", {"query": "hi", "conversation_id": "not-a-uuid"}),
    "chat foreign conversation_id (chatflow's)": Call("chat", "chat", {"query": "hi"}, conversation="of chatflow"),
}

SERVED_BY_THE_FILES_SERVICE = {"upload_file request"}
"""Not an app call: the ``upload_file`` backwards call, which the devkit's files service answers."""

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DIFY_FILE_LINK = re.compile(r"^https?://[^/]+/files/tools/\S*$")
_VARYING = frozenset(
    {"created_at", "finished_at", "elapsed_time", "latency", "time_to_first_token", "time_to_generate"}
    | {"sys.dialogue_count"}
)
"""Values a new run changes besides ids: times, durations, and the turn (the recorded conversations had more)."""


@pytest.fixture(scope="module")
def dify() -> Iterator[RecordedDify]:
    backend = RecordedDify(reachable={REACHABLE: b"hello world"})
    yield backend
    backend.files.close()


@pytest.fixture(scope="module")
def plugin(dify: RecordedDify) -> Iterator[PluginProcess]:
    with PluginProcess(ECHO_PLUGIN, dify) as process:
        yield process


def app_id(dify: RecordedDify, app: str) -> str:
    return next((known.app_id for known in dify.apps if known.name == app), app)


def invoke(plugin: PluginProcess, kind: str, app: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """What the plugin gets from one ``session.app`` call: its events, or ``{"error": <message>}``."""
    if kind == "fetch":
        return [plugin.request("GET", f"/fetch/{app}").json()]
    return plugin.request("POST", f"/app/{kind}/{app}", body=json.dumps(fields).encode()).lines()


def upload(dify: RecordedDify) -> dict[str, Any]:
    """A file uploaded as ``session.file.upload`` does it: a signed URL from Dify, then the multipart POST."""
    signed = dify.files.sign_upload({"filename": "x.txt", "mimetype": "text/plain"})
    answer = requests.post(signed["url"], files={"file": ("x.txt", b"hello world", "text/plain")}, timeout=10)
    assert answer.status_code == 201
    return answer.json()


@dataclass
class Replayed:
    lines: list[dict[str, Any]]
    sent_conversation: str | None = None
    ids: dict[str, str] = field(default_factory=dict)
    """Recorded id -> the id this replay used in its place (uploads)."""


def replay(plugin: PluginProcess, dify: RecordedDify, name: str) -> Replayed:
    call = CALLS[name]
    fields = json.loads(json.dumps(call.fields))
    replayed = Replayed([])
    if call.conversation == "unknown":
        fields["conversation_id"] = str(uuid.uuid4())
    elif call.conversation:
        first = invoke(plugin, "chat", app_id(dify, call.conversation.removeprefix("of ")), {"query": "first"})
        fields["conversation_id"] = first[0]["conversation_id"]
    if call.upload:
        uploaded = upload(dify)
        target = fields["inputs"]["doc"]
        target[call.upload] = uploaded["preview_url"] if call.upload == "url" else uploaded["id"]
        recorded_id = _UUID.search(CASES[name].raw or "")
        if recorded_id:
            replayed.ids[recorded_id.group()] = uploaded["id"]
    replayed.sent_conversation = fields.get("conversation_id")
    replayed.lines = invoke(plugin, call.kind, app_id(dify, call.app), fields)
    return replayed


def normalized(value: Any, key: str = "") -> Any:
    """``value`` with what a new run changes set aside: ids, times, durations, links to Dify's own files."""
    if key in _VARYING:
        return "<varies>"
    if isinstance(value, dict):
        return {name: normalized(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [normalized(item) for item in value]
    if isinstance(value, str):
        return "<dify file link>" if _DIFY_FILE_LINK.match(value) else _UUID.sub("<id>", value)
    return value


def assert_sorted_keys(value: Any) -> None:
    """The daemon hands every event over re-encoded from a Go map: keys sorted, at every depth."""
    if isinstance(value, dict):
        assert list(value) == sorted(value)
        for item in value.values():
            assert_sorted_keys(item)
    elif isinstance(value, list):
        for item in value:
            assert_sorted_keys(item)


# -- the recording is covered, case by case ----------------------------------------------------------------------


def test_every_recorded_case_is_replayed_or_said_to_be_out_of_a_plugin_s_reach():
    accounted = set(CALLS) | set(NOT_REPRODUCIBLE) | SERVED_BY_THE_FILES_SERVICE
    assert set(CASES) == accounted
    assert not set(CALLS) & set(NOT_REPRODUCIBLE)


@pytest.mark.parametrize("name", list(NOT_REPRODUCIBLE))
def test_the_cases_out_of_reach_are_refusals_no_plugin_can_cause(name):
    recorded = CASES[name]
    assert recorded.status in (400, 404) and not recorded.events
    assert "inner" in recorded.raw or "tenant" in recorded.raw


@pytest.mark.parametrize("name", list(CALLS))
def test_the_plugin_gets_what_real_dify_gave(plugin, dify, name):
    recorded = CASES[name]
    replayed = replay(plugin, dify, name)
    got = replayed.lines
    if CALLS[name].kind == "fetch":
        (answer,) = got
        if recorded.status == 200:
            assert answer == recorded.plugin_gets
            assert_sorted_keys(answer)
        else:  # the recording abbreviates the daemon's words: "ERROR ... failed: data is nil"
            assert recorded.plugin_gets.endswith("failed: data is nil")
            assert answer == {"error": "fetch app failed: data is nil"}
        return
    if recorded.status != 200:
        (expected,) = recorded.plugin_gets
        for recorded_id, used in replayed.ids.items():
            expected = expected.replace(recorded_id, used)
        assert ["ERROR " + line.get("error", "<no error>") for line in got] == [expected]
        return
    assert all("error" not in line for line in got), got
    assert [event.get("event") for event in got] == [event.get("event") for event in recorded.plugin_gets]
    for event, expected in zip(got, recorded.plugin_gets, strict=True):
        assert_sorted_keys(event)
        assert normalized(event) == normalized(expected)


# -- what the comparison above cannot show -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "same"),
    [
        ("chatflow stream continue conv", True),
        ("user=alice stream continue conv", True),
        ("chatflow continue with different inputs", True),
        ("unknown conversation_id", False),
        ("unknown conversation_id blocking", False),
        ("foreign conversation_id (other app's)", False),
    ],
)
def test_a_chatflow_continues_its_own_conversations_and_starts_anew_for_any_other(plugin, dify, name, same):
    replayed = replay(plugin, dify, name)
    assert replayed.sent_conversation
    assert {line["conversation_id"] for line in replayed.lines} == {replayed.lines[0]["conversation_id"]}
    assert (replayed.lines[0]["conversation_id"] == replayed.sent_conversation) is same


def test_a_run_s_ids_and_times_are_its_own(dify):
    request = {"app_id": app_id(dify, "chatflow"), "query": "hello", "inputs": {"tone": "calm"}}
    first = list(dify.invoke_app({**request, "response_mode": "streaming"}))
    second = list(dify.invoke_app({**request, "response_mode": "streaming"}))
    recorded = CASES["chatflow stream ok"].events
    for key in ("conversation_id", "message_id", "task_id", "workflow_run_id"):
        values = {first[0][key], second[0][key], recorded[0][key]}
        assert len(values) == 3
        assert {event[key] for event in first if key in event} == {first[0][key]}
    assert first[0]["data"]["id"] == first[0]["workflow_run_id"]
    assert first[0]["data"]["inputs"]["sys.workflow_run_id"] == first[0]["workflow_run_id"]


@pytest.mark.parametrize(
    "name",
    [name for name, case in CASES.items() if case.events and name in CALLS and CALLS[name].upload is None],
)
def test_events_leave_the_backend_with_dify_s_key_order(dify, name):
    """Before the daemon re-encodes them (sorting the keys), events have the keys Dify wrote, in its order."""
    call = CALLS[name]
    request = {"app_id": app_id(dify, call.app), "inputs": {}, "response_mode": "streaming", **call.fields}
    if call.conversation:
        request["conversation_id"] = None
    events = list(dify.invoke_app(request))
    assert [key_order(event) for event in events] == [key_order(event) for event in CASES[name].events]


def key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, key_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [key_order(item) for item in value[:1]]
    return None


def test_a_call_without_inputs_runs_as_with_none(dify):
    request = {"app_id": app_id(dify, "chatflow"), "query": "hello", "response_mode": "blocking"}
    (result,) = dify.invoke_app(request)
    assert result["answer"] == CASES["chatflow no inputs key"].plugin_gets[0]["answer"] == "You said hello tone="


def test_the_upload_url_is_signed_as_dify_signs_it(dify):
    recorded = urlsplit(CASES["upload_file request"].plugin_gets["url"])
    signed = urlsplit(dify.files.sign_upload({"filename": "x.txt", "mimetype": "text/plain"})["url"])
    assert signed.path == recorded.path == UPLOAD_PATH
    assert [key for key, _ in parse_qsl(signed.query)] == [key for key, _ in parse_qsl(recorded.query)]
    assert dict(parse_qsl(signed.query))["tenant_id"] == TENANT_ID
    # The signature's base64 padding is URL-encoded, as in the recorded URL.
    assert recorded.query.split("&")[2].endswith("%3D") and signed.query.split("&")[2].endswith("%3D")


def test_a_remote_file_that_is_a_link_to_dify_s_own_files_is_accepted_but_unread(plugin, dify):
    (result,) = replay(plugin, dify, "file via remote_url = upload preview_url").lines
    document = result["data"]["outputs"]["doc"]
    assert document["size"] == -1 and document["transfer_method"] == "remote_url"
    assert document["url"].startswith(dify.files.base_url + "/files/tools/")


def test_completion_fails_as_measured_and_a_fixed_dify_refuses_the_app_without_a_model():
    request = {"app_id": COMPLETION_APP_ID, "inputs": {"query": "hi"}, "response_mode": "blocking"}
    measured = RecordedDify()
    with pytest.raises(DifyServerError) as crashed:
        measured.invoke_app(request)
    assert dify_error_message("app", crashed.value, False) == CASES["completion (no model) blocking"].plugin_gets[
        0
    ].removeprefix("ERROR ")
    fixed = RecordedDify(completion_fixed=True)
    with pytest.raises(DifyError) as refused:
        fixed.invoke_app(request)
    assert type(refused.value) is DifyError and str(refused.value) == NO_PROVIDER
