"""The whole endpoint in-process, under anything a client and a scripted Dify may send.

Properties, for every example: a contract status with the contract's body, or a valid stream; no 5xx but 502;
no traceback or file path in any body; Dify never called for a request the relay refuses; every chunk a slice
of at most 256 KiB handed over as a real generator (the SDK streams nothing else).
"""

import json
from collections.abc import Iterator
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import relay
import relay.native
from tests import declarations
from tests.fuzz import strategies as fuzz
from tests.fuzz.conftest import EXAMPLES
from tests.fuzz.contract import checked_body
from tests.unit.conftest import FakeSession

KINDS = {kind.name: kind for kind in (relay.CHAT, relay.WORKFLOW, relay.COMPLETION)}
ROUTES = [route for route in declarations.routes() if route.kind in KINDS]
# Preflights are quick to answer and quick to check: most examples go to the routes that run apps.
WEIGHTED_ROUTES = [route for route in ROUTES for _ in range(1 if route.method == "OPTIONS" else 4)]
CONTRACT_STATUSES = {200, 204, 400, 401, 403, 404, 413, 500, 502}
"""500 only as ``endpoint_misconfigured``, a setting the admin must fix (checked below)."""
REFUSED_BEFORE_DIFY = {400, 401, 403, 413}
DIFYS_REFUSAL = "invalid_input"
"""The one 4xx code that Dify gave (it refused the call before the run): the call reached Dify, no app ran."""
CONTRACT_CODES = {
    "invalid_request",
    "unauthorized",
    "app_not_allowed",
    "app_not_found",
    "payload_too_large",
    "invocation_failed",
    "conversation_not_found",
    "endpoint_not_configured",
    "endpoint_misconfigured",
}


class ScriptedDify:
    """Answers ``session.app`` calls with the drawn events, or fails the way the SDK fails."""

    def __init__(self, events: list[Any], failure: str | None, fail_late: bool, parameters: Any) -> None:
        self.events = events
        self.failure = failure
        self.fail_late = fail_late
        self.parameters = parameters

    def __call__(self, kind: str, kwargs: dict[str, Any]) -> Any:
        if kwargs["response_mode"] == "blocking":
            if self.failure is not None:
                raise Exception(self.failure)  # the SDK raises exactly this type
            return self.events[0] if self.events else {}
        return self._stream()

    def _stream(self) -> Iterator[Any]:
        if self.failure is not None and not self.fail_late:
            raise Exception(self.failure)
        yield from self.events
        if self.failure is not None:
            raise Exception(self.failure)


app_parameters = st.one_of(
    fuzz.json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "opening_statement": st.one_of(fuzz.text, fuzz.json_values),
            "suggested_questions": st.one_of(st.lists(fuzz.text, max_size=3), fuzz.json_values),
            "user_input_form": st.lists(
                st.one_of(
                    st.dictionaries(
                        st.sampled_from(["text-input", "paragraph", "select", "number", "checkbox", "file", "x"]),
                        st.one_of(
                            st.fixed_dictionaries(
                                {"variable": st.one_of(fuzz.text, fuzz.json_values)},
                                optional={
                                    "label": fuzz.json_values,
                                    "required": fuzz.json_values,
                                    "max_length": fuzz.json_values,
                                    "options": fuzz.json_values,
                                    "default": fuzz.json_values,
                                },
                            ),
                            fuzz.json_values,
                        ),
                        max_size=2,
                    ),
                    fuzz.json_values,
                ),
                max_size=4,
            ),
        },
    ),
)


@given(
    route=st.sampled_from(WEIGHTED_ROUTES),
    head=st.booleans(),
    app_id=fuzz.app_ids(),
    query_string=fuzz.query_strings(),
    headers=fuzz.header_sets(),
    body=fuzz.bodies(),
    settings=fuzz.settings_values(),
    events=fuzz.event_streams(),
    failure=fuzz.dify_failures,
    fail_late=st.booleans(),
    parameters=app_parameters,
)
def test_any_request_gets_a_contract_answer(
    route, head, app_id, query_string, headers, body, settings, events, failure, fail_late, parameters
):
    EXAMPLES["in-process endpoint"] += 1
    method = "HEAD" if head and route.method == "GET" else route.method
    content_type, body = body
    if content_type is not None and method == "POST":
        headers = {"Content-Type": content_type, **headers}
    request = Request(
        EnvironBuilder(
            path=route.path.replace("<app_id>", "x"),
            method=method,
            query_string=query_string,
            headers=headers,
            data=body if method == "POST" else None,
        ).get_environ()
    )
    dify = ScriptedDify(events, failure, fail_late, parameters)
    session = FakeSession(dify, parameters if isinstance(parameters, dict) else {})

    response = relay.native.serve(session, request, {"app_id": app_id}, settings, KINDS[route.kind])

    body_text = checked_body(response)  # a preflight's 204 has no body to stream
    event(f"{response.status_code} {response.mimetype}")
    assert response.status_code in CONTRACT_STATUSES, body_text[:500]
    if response.status_code in REFUSED_BEFORE_DIFY and DIFYS_REFUSAL not in body_text:
        # A refusal runs no app. Checking the request against the app's form (a file sent to an input the app
        # does not have) may read the app's parameters; a refused key or origin asks nothing of Dify.
        assert session.ran() == [], "an app ran for a refused request"
        if response.status_code in (401, 403):
            assert session.app.calls == [], "Dify was asked for a request refused at the door"
    if response.status_code >= 400:
        _assert_error_body(response.mimetype, body_text, response.status_code)
    elif response.status_code == 200 and response.mimetype == "application/x-ndjson":
        # Only "\n" ends a line: JSON strings may hold other line breaks (U+0085, U+2028) raw.
        lines = [json.loads(line) for line in body_text.split("\n") if line]
        if lines and method != "HEAD":
            assert lines[-1] is not None


def _assert_error_body(mimetype: str, body_text: str, status: int) -> None:
    if mimetype == "text/html":
        assert body_text.rstrip().endswith("</html>") and f"HTTP {status}" in body_text
        assert status != 500 or "endpoint_misconfigured" in body_text
        return
    assert mimetype == "application/json"
    error = json.loads(body_text)["error"]
    assert set(error) == {"code", "message"} and error["code"] in CONTRACT_CODES
    assert status != 500 or error["code"] == "endpoint_misconfigured"
