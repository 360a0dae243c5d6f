"""The HTTP request a plugin receives from Dify's daemon, rebuilt byte for byte the way the daemon builds it.

The daemon (langgenius/dify-plugin-daemon, ``internal/service/endpoint.go`` ``copyRequest``) clones the incoming
request, changes a few things and serializes it with Go's ``http.Request.Write``; the plugin then parses those
bytes (``dify_plugin.core.utils.http_parser.deserialize_request``). Reproducing the same bytes here means a plugin
that works against the devkit sees exactly what it will see in Dify:

* the path is the part after ``/e/<hook_id>``, percent-decoded and re-escaped by Go's rules;
* the query string is re-encoded by ``url.Values.Encode``: keys sorted, ``+`` for spaces, pairs holding ``;`` or a
  bad escape dropped;
* the body is cut at 10 MiB without an error and ``Content-Length`` says what was kept;
* an *empty* body of a POST or PUT goes out as ``Transfer-Encoding: chunked`` with the terminating ``0\\r\\n\\r\\n``
  (Go cannot tell an empty ``io.Reader`` from an unknown one), which the SDK's parser hands to the plugin as a
  5-byte body;
* ``X-Forwarded-For``, ``X-Real-IP``, ``X-Forwarded``, ``X-Original-Forwarded-For``, ``X-Original-Url`` and
  ``X-Original-Host`` are removed (``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``Forwarded`` are not);
* ``Dify-Hook-Id`` is set, ``Dify-Hook-Url`` only when the request has none (behind Dify's nginx it always has
  one, see ``nginx_headers``), built from the *decoded* path: a ``%0A`` in the path is a newline there;
* header names are canonicalized (``x-api-key`` -> ``X-Api-Key``) and written in sorted order after ``Host`` and
  ``User-Agent`` (``Go-http-client/1.1`` when the client sent none); in every value Go turns ``\r`` and ``\n``
  into spaces and trims the ends (``Header.write``), so no header can break the request's framing.

Dify's nginx stands in front of the daemon and rewrites the request first (``nginx_headers``, from
langgenius/dify ``docker/nginx/conf.d/default.conf.template`` and ``docker/nginx/proxy.conf.template``).

Error bodies the daemon writes itself (``daemon_error_body``, ``plugin_error_text``) live here too, since they
are part of what a client of the daemon sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_from_bytes, unquote, unquote_to_bytes

from devkit.plugin import HeaderItems

MAX_BODY_BYTES = 10 * 1024 * 1024
"""``io.LimitReader(req.Body, 10*1024*1024)`` in ``copyRequest``: the rest of a body is silently dropped."""

STRIPPED_HEADERS = (
    "X-Forwarded-For",
    "X-Real-Ip",
    "X-Forwarded",
    "X-Original-Forwarded-For",
    "X-Original-Url",
    "X-Original-Host",
)
"""The "ip traces" ``copyRequest`` deletes, canonicalized."""

HOOK_ID_HEADER = "Dify-Hook-Id"
HOOK_URL_HEADER = "Dify-Hook-Url"
ORIGINAL_HOST_HEADER = "X-Original-Host"
DEFAULT_USER_AGENT = "Go-http-client/1.1"

# Go's http.Request.Write writes these itself (or never), whatever the header map holds.
_WRITTEN_SEPARATELY = frozenset({"Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer"})
# requestMethodUsuallyLacksBody in net/http: an empty body of these is dropped instead of sent chunked.
_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def canonical_header_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-type`` -> ``Content-Type``; odd names untouched."""
    if not _TOKEN.match(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_items(headers: HeaderItems | None) -> list[tuple[str, str]]:
    """Headers as (name, value) pairs, from a mapping or from pairs (which keep repeated names)."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def normalize_query(query: str) -> str:
    """``req.URL.Query().Encode()``: what the daemon forwards in place of the client's query string."""
    pairs: list[tuple[bytes, bytes]] = []
    for part in query.split("&"):
        if not part or ";" in part:
            continue
        key, _, value = part.partition("=")
        if _BAD_ESCAPE.search(key) or _BAD_ESCAPE.search(value):
            continue
        pairs.append((unquote_to_bytes(key.replace("+", " ")), unquote_to_bytes(value.replace("+", " "))))
    pairs.sort(key=lambda pair: pair[0])  # stable: values of one key keep their order, as in Go
    return "&".join(f"{_query_escape(key)}={_query_escape(value)}" for key, value in pairs)


def _query_escape(raw: bytes) -> str:
    return quote_from_bytes(raw, safe=" ").replace(" ", "+")


def escape_path(path: str) -> str:
    """Go's ``url.URL.EscapedPath`` for a path that was just assigned (``newReq.URL.Path = path``)."""
    return quote(path, safe="/$&+,:;=@")


def split_target(target: str) -> tuple[str, str]:
    """``/chat/x?a=b`` -> (``/chat/x`` percent-decoded, ``a=b``)."""
    raw_path, _, query = target.partition("?")
    path = unquote(raw_path) or "/"
    if not path.startswith("/"):
        path = "/" + path
    return path, query


def forward_headers(
    headers: HeaderItems | None, *, host: str, hook_id: str, path: str
) -> tuple[str, dict[str, list[str]]]:
    """Apply ``copyRequest``'s header rules; return the Host to write and the canonical header map."""
    merged: dict[str, list[str]] = {}
    for name, value in header_items(headers):
        merged.setdefault(canonical_header_key(name), []).append(value)

    original_host = (merged.get(ORIGINAL_HOST_HEADER) or [""])[0]
    sent_host = (merged.pop("Host", None) or [host])[0]
    host = original_host or sent_host
    forwarded_proto = (merged.get("X-Forwarded-Proto") or [""])[0]
    client_hook_url = (merged.get(HOOK_URL_HEADER) or [""])[0]

    for name in STRIPPED_HEADERS:
        merged.pop(name, None)
    merged[HOOK_ID_HEADER] = [hook_id]
    if not client_hook_url:
        scheme = "https" if forwarded_proto == "https" else "http"
        merged[HOOK_URL_HEADER] = [f"{scheme}://{host}/e/{hook_id}{path}"]
    return host, merged


def go_header_value(value: str) -> str:
    """A header value as Go's ``Header.write`` writes it: CR and LF become spaces, the ends are trimmed."""
    return value.replace("\n", " ").replace("\r", " ").strip(" \t\r\n")


def nginx_host(host_header: str | None, fallback: str) -> str:
    """nginx's ``$host``: the Host header's name, lower-cased, without its port (``fallback`` when missing)."""
    host = (host_header or "").strip().lower()
    if not host:
        return fallback
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.split(":", 1)[0]


def nginx_headers(
    headers: HeaderItems | None,
    *,
    request_uri: str,
    client_ip: str,
    fallback_host: str,
    scheme: str = "http",
    server_port: int = 80,
) -> list[tuple[str, str]]:
    """The headers Dify's nginx sends the daemon for a request to ``/e/``.

    * header names holding ``_`` are dropped (``underscores_in_headers`` is off by default), so they never reach
      the SDK's parser;
    * ``Host`` becomes ``$host`` (no port), ``X-Forwarded-For`` gets the client's address appended,
      ``X-Forwarded-Proto`` is ``$scheme``, ``X-Forwarded-Port`` is ``$server_port`` (the port nginx listens on),
      and ``Connection`` is cleared (``proxy.conf``);
    * ``Dify-Hook-Url`` is ``$scheme://$host$request_uri``: the raw URI as the client sent it, query string
      included, replacing whatever the client sent under that name.
    """
    items = header_items(headers)
    lower = {name.lower() for name, _ in items}
    host_header = next((value for name, value in items if name.lower() == "host"), None)
    host = nginx_host(host_header, fallback_host)
    replaced = {
        "host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-port",
        "connection",
        HOOK_URL_HEADER.lower(),
    }
    kept = [(name, value) for name, value in items if "_" not in name and name.lower() not in replaced]
    sent_for = next((value for name, value in items if name.lower() == "x-forwarded-for"), "")
    forwarded_for = f"{sent_for}, {client_ip}" if "x-forwarded-for" in lower and sent_for else client_ip
    return [
        ("Host", host),
        *kept,
        ("X-Forwarded-For", forwarded_for),
        ("X-Forwarded-Proto", scheme),
        ("X-Forwarded-Port", str(server_port)),
        (HOOK_URL_HEADER, f"{scheme}://{host}{request_uri}"),
    ]


def serialize_request(method: str, target: str, host: str, headers: Mapping[str, list[str]], body: bytes) -> bytes:
    """Go's ``http.Request.Write`` for a request whose body is an in-memory buffer of ``len(body)`` bytes."""
    method = method.upper()
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    user_agent = headers.get("User-Agent")
    lines.append(f"User-Agent: {go_header_value(user_agent[0]) if user_agent else DEFAULT_USER_AGENT}")
    payload = body
    if body:
        lines.append(f"Content-Length: {len(body)}")
    elif method not in _METHODS_WITHOUT_BODY:
        lines.append("Transfer-Encoding: chunked")
        payload = b"0\r\n\r\n"
    elif method not in ("GET", "HEAD"):
        lines.append("Content-Length: 0")
    for name in sorted(headers):
        if name in _WRITTEN_SEPARATELY:
            continue
        lines.extend(f"{name}: {go_header_value(value)}" for value in headers[name])
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("utf-8", "surrogateescape") + payload


def build_daemon_request(
    method: str,
    target: str,
    *,
    headers: HeaderItems | None = None,
    body: bytes = b"",
    hook_id: str,
    host: str = "localhost",
) -> bytes:
    """The raw request the daemon would hand the plugin for ``METHOD /e/<hook_id><target>``.

    ``target`` is what follows ``/e/<hook_id>``, query string included; ``host`` is used when ``headers`` carry
    no ``Host``.
    """
    path, query = split_target(target)
    host, merged = forward_headers(headers, host=host, hook_id=hook_id, path=path)
    encoded_query = normalize_query(query)
    request_target = escape_path(path) + (f"?{encoded_query}" if encoded_query else "")
    return serialize_request(method, request_target, host, merged, body[:MAX_BODY_BYTES])


def go_json(value: Any, *, sort_keys: bool = True) -> str:
    """``json.Marshal`` as Go writes it: compact, ``<``, ``>`` and ``&`` escaped.

    Go sorts the keys of a map but keeps a struct's field order: pass ``sort_keys=False`` for a struct.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def plugin_error_text(error: Mapping[str, Any] | None, fallback: str) -> str:
    """``ErrorResponse.Error()``: how the daemon words a plugin's session ``error`` (traceback included)."""
    if not error:
        return fallback
    return go_json(
        {"message": error.get("message", ""), "error_type": error.get("error_type", ""), "args": error.get("args")}
    )


NOT_FOUND_BODY = b'{"code":"not_found","message":"route not found"}'
"""The daemon's answer to any route it lacks, PATCH included: gin's ``NoRoute`` handler writes
``c.JSON(404, gin.H{...})`` (``internal/server/http_server.go``), a Go map, so the keys come sorted."""

GIN_JSON = "application/json; charset=utf-8"
"""The content type of every ``c.JSON`` answer of the daemon (gin's JSON renderer)."""

NGINX_BAD_REQUEST = (
    b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
    b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
"""nginx's own 400 page (``ngx_http_special_response.c``), sent for a request it cannot parse, such as one with a
NUL byte in its request line or headers, or a ``%00`` in its path; it then closes the connection. Dify's image
runs with ``server_tokens`` on, so the real page names the version after "nginx"."""


def daemon_error_body(message: str, *, code: int = -500, error_type: str = "PluginDaemonInternalServerError") -> bytes:
    """The JSON body of the daemon's own error answers, e.g. ``exception.InternalServerError(err).ToResponse()``.

    Its ``message`` is itself a JSON document (``{"message", "error_type", "args"}``), hence the double encoding
    (``internal/types/exception/generic.go`` and ``pkg/entities/response.go``; gin adds no newline).
    """
    inner = go_json({"message": message, "error_type": error_type, "args": None}, sort_keys=False)
    return go_json({"code": code, "message": inner, "data": None}, sort_keys=False).encode()
