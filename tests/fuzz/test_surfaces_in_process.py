"""The OpenAI-compatible and MCP surfaces in-process, under any JSON a client may send and any events Dify may.

Properties: a status of their contracts; a JSON body (or an SSE stream) without traceback or file path; every
chunk a small slice handed over as a generator; no app run for a request refused with a 4xx.
"""

import json

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import relay.mcp_server
import relay.openai_compat
from tests.fuzz import strategies as fuzz
from tests.fuzz.conftest import EXAMPLES
from tests.fuzz.contract import checked_body
from tests.fuzz.test_relay_in_process import ScriptedDify
from tests.unit.conftest import FakeSession, FakeStorage

STATUSES = {200, 202, 204, 400, 401, 403, 404, 405, 413, 500, 502}
REFUSED_BEFORE_DIFY = {400, 401, 403, 413}
DIFYS_REFUSAL = "invalid_input"
"""The one 4xx code that Dify gave (it refused the call before the run): the call reached Dify, no app ran."""
SURFACES = {
    "/v1/chat/completions": lambda *args: relay.openai_compat.serve(*args, relay.openai_compat.CHAT_COMPLETIONS),
    "/v1/models": lambda *args: relay.openai_compat.serve(*args, relay.openai_compat.MODELS),
    "/mcp": relay.mcp_server.serve,
}

messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "tool", "wizard"])},
        optional={"content": st.one_of(fuzz.text, fuzz.json_values)},
    ),
    max_size=4,
)
openai_bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(st.just(fuzz.KNOWN_APP), st.just("demo"), fuzz.json_values),
        "messages": st.one_of(messages, fuzz.json_values),
        "stream": st.one_of(st.booleans(), fuzz.json_values),
        "n": fuzz.json_values,
        "inputs": fuzz.json_values,
        "query_input": fuzz.json_values,
    },
)
mcp_bodies = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "1.0"])},
    optional={
        "id": st.one_of(st.integers(), fuzz.text, st.none()),
        "method": st.sampled_from(["initialize", "ping", "tools/list", "tools/call", "prompts/list", "x"]),
        "params": st.one_of(
            st.fixed_dictionaries({}, optional={"name": st.sampled_from(["demo", "x"]), "arguments": fuzz.json_values}),
            fuzz.json_values,
        ),
    },
)


@given(
    path=st.sampled_from(list(SURFACES)),
    method=st.sampled_from(["GET", "POST", "OPTIONS", "DELETE"]),
    body=st.one_of(openai_bodies, mcp_bodies, fuzz.json_values).map(json.dumps),
    headers=fuzz.header_sets(),
    settings=fuzz.settings_values(),
    events=fuzz.event_streams(),
    failure=fuzz.dify_failures,
    fail_late=st.booleans(),
)
def test_the_other_surfaces_answer_anything_by_their_contracts(
    path, method, body, headers, settings, events, failure, fail_late
):
    EXAMPLES["in-process OpenAI and MCP"] += 1
    headers = {"Content-Type": "application/json", **headers}
    request = Request(
        EnvironBuilder(path=path, method=method, headers=headers, data=body if method == "POST" else None).get_environ()
    )
    parameters = {"user_input_form": [{"text-input": {"variable": "topic", "label": "Topic"}}]}
    session = FakeSession(ScriptedDify(events, failure, fail_late, parameters), parameters)
    session.storage = FakeStorage(writable=False, readable=False)  # as when the manifest does not enable it
    response = SURFACES[path](session, request, {}, settings)
    text = checked_body(response, bodiless=(202, 204, 405))
    assert response.status_code in STATUSES, text[:300]
    if response.mimetype == "application/json" and text:
        json.loads(text)
    assert response.status_code != 500 or "endpoint_misconfigured" in text  # a setting to fix, never a bug
    if response.status_code in REFUSED_BEFORE_DIFY and DIFYS_REFUSAL not in text:
        ran = [name for name, _ in session.app.calls if name != "fetch_app"]
        assert not ran, f"an app ran for a request answered {response.status_code}"
    if response.status_code == 200 and response.mimetype == "text/event-stream":
        for frame in filter(None, text.split("\n\n")):
            assert all(line.startswith(("data: ", ":", "event: ")) for line in frame.split("\n")), frame[:200]
