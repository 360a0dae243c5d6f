"""What the internet and a misbehaving Dify may send, as Hypothesis strategies.

Routes and settings come from the plugin's own declarations (``tests.declarations``). Big values are built
from small draws (a length and a character) so that Hypothesis can afford them, and they stay rare.
"""

import json
import uuid
from typing import Any

from hypothesis import strategies as st

from tests import declarations

MIB = 1024 * 1024
KNOWN_APP = "6f1c2a9e-3b7d-4c1e-9a2f-0d4b5c6e7f80"
"""The one app id the scripted Dify answers for; any other id is "app not found"."""

FIELD_NAMES = [
    "query",
    "inputs",
    "inputs.topic",
    "inputs.",
    "conversation_id",
    "user",
    "response_mode",
    "format",
    "api_key",
]
FIELD_VALUES = ["", "hi", "streaming", "blocking", "ndjson", "sse", "html", "json", "xml", "{}", '{"a": 1}', "[1]", "k"]
EVENT_NAMES = [
    "message",
    "agent_message",
    "agent_thought",
    "message_file",
    "message_end",
    "message_replace",
    "error",
    "workflow_started",
    "node_started",
    "node_finished",
    "text_chunk",
    "workflow_finished",
    "workflow_paused",
    "human_input_required",
    "tts_message",
    "ping",
]
EVENT_FIELDS = ["answer", "metadata", "usage", "data", "url", "type", "thought", "tool", "tool_input", "observation"]
DATA_FIELDS = ["outputs", "status", "elapsed_time", "error", "title", "node_type", "text", "total_tokens", "node_id"]


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Pick a strategy with the given odds (Hypothesis's ``one_of`` gives no control over them)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(min_value=0, max_value=len(table) - 1).flatmap(lambda index: table[index])


def huge_text(max_bytes: int = 8 * MIB) -> st.SearchStrategy[str]:
    """One character repeated up to ``max_bytes`` times: cheap to draw, hard to swallow."""
    return st.builds(
        lambda length, char: char * length,
        st.integers(min_value=200_000, max_value=max_bytes),
        st.sampled_from(["x", "<", "\x01", "é", '"', "&", "\n"]),
    )


text = st.text(max_size=40)
small_text = st.one_of(st.sampled_from(FIELD_VALUES), text)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


# -- requests -------------------------------------------------------------------------------------------------


def app_ids() -> st.SearchStrategy[str]:
    others = st.one_of(
        st.just(KNOWN_APP.upper()),
        st.builds(lambda: str(uuid.uuid4())),
        st.just(KNOWN_APP + "\n"),
        st.just("not-an-app"),
        st.text(alphabet=st.characters(blacklist_characters="/?#%"), min_size=1, max_size=80),
    )
    return weighted((6, st.just(KNOWN_APP)), (2, st.just("demo")), (2, others))


def settings_values() -> st.SearchStrategy[dict[str, Any]]:
    """Values for the declared settings: empty, sensible, or garbage."""
    per_setting = {}
    required = {}
    for setting in declarations.settings():
        name = setting["name"]
        candidates = [st.just(""), small_text]
        if name == "allowed_apps":
            served = st.sampled_from(["*", KNOWN_APP, f"demo={KNOWN_APP}", f"workflow:demo={KNOWN_APP}, *"])
            required[name] = weighted((8, served), (1, st.none()), (1, st.one_of(*candidates)))
            continue
        if name == "cors_allowed_origins":
            candidates.append(st.sampled_from(["*", "https://a.example", "https://a.example, https://b.example"]))
        if name == "api_key":
            candidates.append(st.just("k"))
        per_setting[name] = weighted((6, st.none()), (3, st.one_of(*candidates)))
    return st.fixed_dictionaries(required, optional=per_setting).map(
        lambda values: {name: value for name, value in values.items() if value is not None}
    )


def query_strings() -> st.SearchStrategy[str]:
    pairs = st.lists(st.tuples(st.sampled_from(FIELD_NAMES), small_text), max_size=6)
    encoded = pairs.map(lambda items: "&".join(f"{name}={_quote(value)}" for name, value in items))
    formats = st.sampled_from(["", "format=html&", "format=sse&", "format=json&", "format=ndjson&"])
    return weighted(
        (12, st.tuples(formats, encoded).map("".join)),
        (1, st.text(max_size=60).map(_quote_loosely)),
        (1, st.integers(min_value=250, max_value=270).map(lambda n: "&".join(["f=1"] * n))),
    )


def header_sets() -> st.SearchStrategy[dict[str, str]]:
    names = st.sampled_from(
        [
            "Accept",
            "Content-Type",
            "Authorization",
            "X-API-Key",
            "Origin",
            "Access-Control-Request-Method",
            "Accept-Language",
            "X-Custom",
        ]
    )
    values = st.one_of(
        st.sampled_from(
            [
                "text/html",
                "application/json",
                "text/event-stream",
                "application/x-ndjson",
                "*/*",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=b",
                "multipart/form-data",
                "Bearer k",
                "Bearer wrong",
                "bearer",
                "k",
                "https://a.example",
                "POST",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    )
    return st.dictionaries(names, values, max_size=5)


def bodies() -> st.SearchStrategy[tuple[str | None, bytes]]:
    """A body and the Content-Type that usually goes with it (``None``: no such header)."""
    fields_json = st.fixed_dictionaries(
        {}, optional={name: st.one_of(small_text, json_values) for name in ("query", "inputs", "response_mode", "user")}
    ).map(lambda value: json.dumps(value).encode())
    valid_json = st.fixed_dictionaries(
        {"query": st.just("hi"), "inputs": st.dictionaries(text, json_values, max_size=3)},
        optional={"response_mode": st.sampled_from(["streaming", "blocking"])},
    ).map(lambda value: json.dumps(value).encode())
    json_bodies = weighted(
        (6, valid_json),
        (2, fields_json),
        (1, fields_json.flatmap(lambda body: st.integers(0, max(len(body) - 1, 0)).map(lambda cut: body[:cut]))),
        (1, st.integers(min_value=1, max_value=200_000).map(lambda depth: nested(depth).encode())),
        (
            1,
            st.integers(min_value=1, max_value=2_000).map(
                lambda depth: b'{"query": "hi", "inputs": {"a": ' + nested(depth).encode() + b"}}"
            ),
        ),
        (
            1,
            huge_text().map(lambda value: json.dumps({"query": "hi", "inputs": {"t": value}}).encode()[: 8 * MIB + 16]),
        ),
        (1, st.sampled_from([b"\xff\xfe\xfd", b'{"query": "\xff"}', b'{"query": "\\ud800"}'])),
    )
    form_pairs = st.lists(st.tuples(st.sampled_from(FIELD_NAMES), small_text), max_size=6)
    form_bodies = st.one_of(
        form_pairs.map(lambda items: "&".join(f"{name}={_quote(value)}" for name, value in items).encode()),
        huge_text(3 * MIB).map(lambda value: b"query=hi&inputs.t=" + value.encode()),
        st.sampled_from([b"query=%ff%fe", b"&&&==&", b"query"]),
    )
    multipart_bodies = st.one_of(
        form_pairs.map(_multipart),
        st.tuples(form_pairs, file_parts()).map(lambda both: _multipart(*both)),
        st.binary(max_size=256).map(lambda junk: b'--b\r\nContent-Disposition: form-data; name="query"\r\n\r\n' + junk),
    )
    return weighted(
        (2, st.tuples(st.none(), st.sampled_from([b"", b"0\r\n\r\n"]))),
        (5, st.tuples(st.just("application/json"), json_bodies)),
        (3, st.tuples(st.just("application/x-www-form-urlencoded"), form_bodies)),
        (1, st.tuples(st.just("multipart/form-data; boundary=b"), multipart_bodies)),
        (
            1,
            st.tuples(
                st.one_of(st.none(), st.sampled_from(["text/plain", "application/xml"])), st.binary(max_size=512)
            ),
        ),
    )


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _quote_loosely(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="=&%+")


def file_parts() -> st.SearchStrategy[list[tuple[str, str, str, bytes]]]:
    """File parts as (part name, file name, MIME type, content): names and types sometimes huge or hostile."""
    names = weighted(
        (6, st.sampled_from(["notes.txt", "a.png", "", "../../etc/passwd", "a\\b.txt", "é.md"])),
        (1, st.text(max_size=60)),
        (1, huge_text(6 * MIB).map(lambda value: value.replace('"', "x").replace("\n", "x") + ".txt")),
    )
    types = weighted(
        (6, st.sampled_from(["text/plain", "image/png", "application/octet-stream", ""])),
        (1, st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)),
        (1, huge_text(2 * MIB).map(lambda value: "text/" + value.replace("\n", "x"))),
    )
    part = st.tuples(st.sampled_from(["inputs.x", "inputs.y", "file", "inputs."]), names, types, st.binary(max_size=64))
    return st.lists(part, min_size=1, max_size=3)


def _multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, str, bytes]] = ()) -> bytes:
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value.encode() + b"\r\n"
        for name, value in fields
    )
    for name, filename, mimetype, content in files:
        disposition = f'form-data; name="{name}"; filename="{filename}"'.encode("utf-8", "replace")
        kind = f"Content-Type: {mimetype}\r\n".encode("utf-8", "replace") if mimetype else b""
        parts += b"--b\r\nContent-Disposition: " + disposition + b"\r\n" + kind + b"\r\n" + content + b"\r\n"
    return parts + b"--b--\r\n"


# -- what Dify sends back -------------------------------------------------------------------------------------


def events() -> st.SearchStrategy[Any]:
    """One event as Dify could send it: mostly well named, with fields of any type, sometimes not an object."""
    data = st.dictionaries(st.sampled_from(DATA_FIELDS), json_values, max_size=5)
    event = st.fixed_dictionaries(
        {"event": st.one_of(st.sampled_from(EVENT_NAMES), json_values)},
        optional={
            **{name: json_values for name in EVENT_FIELDS},
            "data": st.one_of(data, json_values),
            "metadata": st.one_of(st.fixed_dictionaries({"usage": json_values}), json_values),
            "conversation_id": st.one_of(text, json_values),
        },
    )
    return st.one_of(event, event, event, json_values)


def event_streams() -> st.SearchStrategy[list[Any]]:
    return st.one_of(
        st.lists(events(), max_size=8),
        huge_text(3 * MIB).map(lambda value: [{"event": "message", "answer": value}, {"event": "message_end"}]),
    )


dify_failures = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "app not found",
            "missing query",
            'invoke app failed: request failed with status code: 400 and respond with: {"code": "invalid_param", '
            '"message": "", "status": 400}',
            'Post "http://api:5001/inner/api/invoke/app": dial tcp 10.0.0.3:5001: connect: connection refused',
        ]
    ),
    text,
)
"""An error the SDK raises for the app call (``None``: no error)."""
