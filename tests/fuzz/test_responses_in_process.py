"""The Responses API surface in-process, under any JSON a client may send and any events Dify may send back.

``POST /v1/responses`` and ``GET /v1/responses/{id}`` are in the plugin's declarations, so the fuzzing through the
plugin process (``test_plugin_process.py``) sends them anything already; this draws what only a Responses client
would send (items, parts, tool choices, metadata, response ids: valid ones for the caller, others, and garbage),
so that the examples reach past the first 400.

Properties: a status of the contract; a JSON error in OpenAI's shape, or a response object; a stream of numbered
Responses events ending with one terminal event; no traceback or file path anywhere; every chunk a small slice
handed over as a generator; no app run for a request refused with a 4xx; plugin storage within its bound.
"""

import json

from hypothesis import event, given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import relay.openai_responses
from relay.core import access, conversations
from relay.core.errors import RelayError
from relay.openai_responses import kept
from relay.openai_responses.ids import ResponseIds, ResponseRef, Slot
from tests.fuzz import strategies as fuzz
from tests.fuzz.conftest import EXAMPLES
from tests.fuzz.contract import checked_body
from tests.fuzz.test_relay_in_process import ScriptedDify
from tests.unit.conftest import FakeSession, FakeStorage

STATUSES = {200, 204, 400, 401, 403, 404, 405, 413, 500, 502}
REFUSED_BEFORE_DIFY = {400, 401, 403, 413}
DIFYS_REFUSAL = "invalid_input"
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
ENDPOINT = "endpoint-1"

parts = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["input_text", "output_text", "refusal"]), "text": fuzz.text}),
    st.fixed_dictionaries(
        {"type": st.just("input_image")},
        optional={
            "image_url": st.sampled_from(
                ["https://img.example/a.png", "data:image/png;base64,iVBORw0KGgo=", "ftp://x"]
            ),
            "file_id": fuzz.text,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("input_file")},
        optional={
            "file_data": st.one_of(
                st.sampled_from(["aGVsbG8=", "data:text/plain;base64,aGk=", "!!"]), fuzz.json_values
            ),
            "file_url": st.one_of(st.just("https://files.example/a.pdf"), fuzz.text),
            "filename": st.one_of(st.sampled_from(["a.txt", "../b.md", ""]), fuzz.json_values),
        },
    ),
    fuzz.json_values,
)
items = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"])},
        optional={
            "type": st.sampled_from(["message", "reasoning", "function_call_output", "item_reference", "x"]),
            "content": st.one_of(fuzz.text, st.lists(parts, max_size=3), fuzz.json_values),
        },
    ),
    fuzz.json_values,
)
tool_choices = fuzz.weighted(
    (6, st.sampled_from(["auto", "none", {"type": "allowed_tools", "mode": "auto"}])),
    (1, st.sampled_from(["required", {"type": "function", "name": "f"}])),
    (1, fuzz.json_values),
)
extras = {
    name: fuzz.weighted((12, valid), (1, fuzz.json_values))
    for name, valid in {
        "instructions": fuzz.text,
        "stream": st.booleans(),
        "store": st.booleans(),
        "metadata": st.dictionaries(st.text(max_size=10), fuzz.text, max_size=3),
        "tools": st.just([{"type": "function", "name": "f", "parameters": {}}]),
        "tool_choice": tool_choices,
        "inputs": st.just({"topic": "tea"}),
        "user": fuzz.text,
        "background": st.just(False),
    }.items()
}
words = fuzz.text.filter(str.strip)
good_parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("input_text"), "text": words}),
    st.just({"type": "input_image", "image_url": "https://img.example/a.png"}),
    st.just({"type": "input_file", "filename": "a.txt", "file_data": "aGVsbG8="}),
)
user_message = st.fixed_dictionaries(
    {
        "role": st.just("user"),
        "content": fuzz.weighted(
            (4, words), (3, st.lists(good_parts, min_size=1, max_size=3)), (1, st.lists(parts, max_size=3))
        ),
    }
)
earlier_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "developer"]), "content": words}
)
# Most bodies are what a client means to send, so that examples reach the app; some are anything at all.
sensible = st.fixed_dictionaries(
    {
        "model": st.sampled_from([fuzz.KNOWN_APP, "demo"]),
        "input": st.one_of(
            words,
            st.tuples(st.lists(fuzz.weighted((12, earlier_message), (1, items)), max_size=3), user_message).map(
                lambda both: [*both[0], both[1]]
            ),
        ),
        "stream": st.booleans(),
    },
    optional={name: value for name, value in extras.items() if name != "stream"},
)
anything = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(st.just(fuzz.KNOWN_APP), fuzz.json_values),
        "input": st.one_of(fuzz.text, st.lists(items, max_size=4), fuzz.json_values),
        **extras,
    },
)
bodies = fuzz.weighted((10, sensible), (2, anything), (1, fuzz.json_values))
# A response id: one this caller could hold (for the known app, with or without a conversation and a kept copy),
# one of another caller, or anything at all.
ids = fuzz.weighted(
    (6, st.tuples(st.just("mine"), st.booleans(), st.booleans())),
    (1, st.tuples(st.just("theirs"), st.booleans(), st.booleans())),
    (1, st.sampled_from(["resp_", "resp_" + "A" * 86, "msg_1"])),
    (1, fuzz.text),
)
CONVERSATION = "0d4b5c6e-7f80-4c1e-9a2f-6f1c2a9e3b7d"
# What the app answers: mostly an answer as Dify streams it (words, perhaps reasoning, an end or a pause), else
# anything at all.
answer_words = st.lists(st.one_of(fuzz.text, st.sampled_from(["<think>", "</think>", "<thi", "nk>"])), max_size=6)
answers = st.tuples(answer_words, st.sampled_from(["message_end", "workflow_paused", "error", None])).map(
    lambda drawn: (
        [{"event": "message", "answer": word, "conversation_id": CONVERSATION, "message_id": "m"} for word in drawn[0]]
        + ([{"event": drawn[1], "conversation_id": CONVERSATION, "message": "x"}] if drawn[1] else [])
    )
)


def caller_of(request: Request, settings: dict) -> access.Caller:
    try:
        return access.check_api_key(request, access.AccessSettings.from_settings(settings))
    except RelayError:
        return access.ANONYMOUS


def response_id(drawn, storage: FakeStorage, caller: access.Caller) -> str:
    if isinstance(drawn, str):
        return drawn
    whose, conversation, slot = drawn
    owner = caller if whose == "mine" else access.Caller.of_key("someone else")
    ref = ResponseRef(
        fuzz.KNOWN_APP,
        CONVERSATION if conversation else None,
        1_800_000_000,
        b"\x07" * 8,
        Slot(0, 0) if slot else None,
    )
    return ResponseIds(storage, ENDPOINT, owner).make(ref)


@given(
    route=st.sampled_from(["create"] * 6 + ["retrieve"] * 2 + ["preflight", "other"]),
    other_method=st.sampled_from(["GET", "PUT", "DELETE", "HEAD"]),
    body=bodies,
    previous=fuzz.weighted((3, st.none()), (2, ids)),
    headers=fuzz.header_sets(),
    settings=fuzz.settings_values(),
    events=fuzz.weighted((2, answers), (1, fuzz.event_streams())),
    failure=fuzz.weighted((3, st.none()), (1, fuzz.dify_failures)),
    fail_late=st.booleans(),
    writable=st.booleans(),
)
def test_the_responses_surface_answers_anything_by_its_contract(
    route, other_method, body, previous, headers, settings, events, failure, fail_late, writable
):
    EXAMPLES["in-process Responses API"] += 1
    retrieve = route == "retrieve"
    method = {"create": "POST", "retrieve": "GET", "preflight": "OPTIONS"}.get(route, other_method)
    headers = {"Content-Type": "application/json", **headers}
    storage = FakeStorage(writable=writable, readable=writable)
    path = "/v1/responses"
    probe = Request(EnvironBuilder(path=path, headers=headers).get_environ())
    drawn_id = response_id(previous, storage, caller_of(probe, settings)) if previous is not None else None
    if retrieve:
        path, values = f"/v1/responses/{drawn_id or 'resp_x'}", {"response_id": drawn_id or "resp_x"}
    else:
        values = {}
        if drawn_id is not None and isinstance(body, dict):
            body = {**body, "previous_response_id": drawn_id}
    data = json.dumps(body) if method == "POST" else None
    request = Request(EnvironBuilder(path=path, method=method, headers=headers, data=data).get_environ())
    parameters = {"user_input_form": [{"text-input": {"variable": "topic", "label": "Topic"}}]}
    session = FakeSession(ScriptedDify(events, failure, fail_late, parameters), parameters, storage=storage)
    session.endpoint_id = ENDPOINT
    response = relay.openai_responses.serve(session, request, values, settings)

    text = checked_body(response)
    assert response.status_code in STATUSES, text[:300]
    streamed = isinstance(body, dict) and body.get("stream") is True
    event(f"{'GET' if retrieve else method} {response.status_code} {response.mimetype}{' (stream)' * streamed}")
    if response.status_code == 400:
        event("400 " + str(json.loads(text)["error"]["param"]).split("[")[0])
    assert response.status_code != 500 or "endpoint_misconfigured" in text
    if response.status_code in REFUSED_BEFORE_DIFY and DIFYS_REFUSAL not in text:
        assert not session.ran(), f"an app ran for a request answered {response.status_code}"
    if response.mimetype == "application/json" and text:
        document = json.loads(text)
        if response.status_code >= 400:
            assert set(document["error"]) == {"message", "type", "param", "code"}
        elif not retrieve:
            assert document["object"] == "response" and document["status"] in ("completed", "incomplete")
    if response.status_code == 200 and response.mimetype == "text/event-stream":
        check_stream(text)
    assert storage.size <= kept.MAX_KEPT_BYTES + conversations.MAX_SHARED_BYTES + 64


def check_stream(text: str) -> None:
    """Numbered Responses events, one id, one terminal event last; keep-alive comments anywhere."""
    found = []
    for frame in filter(None, text.split("\n\n")):
        if frame.startswith(":"):
            continue
        head, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert head == f"event: {event['type']}"
        found.append(event)
    assert [event["sequence_number"] for event in found] == list(range(len(found)))
    assert found[0]["type"] == "response.created" and found[-1]["type"] in TERMINAL
    assert not any(event["type"] in TERMINAL for event in found[:-1])
    assert len({event["response"]["id"] for event in found if "response" in event}) == 1
