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

Dify's nginx stands in front of the daemon and rewrites the request first (``nginx_headers``). The error bodies the
daemon writes itself live here too, since they are part of what a client of the daemon sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_to_bytes

from devkit.plugin import HeaderItems

MAX_BODY_BYTES = 10 * 1024 * 1024
"""``io.LimitReader(req.Body, 10*1024*1024)`` in ``copyRequest``: the rest of a body is silently dropped."""

# The "ip traces" copyRequest deletes, canonicalized (and X-Original-Host, read first: it names the host).
_STRIPPED = ("X-Forwarded-For", "X-Real-Ip", "X-Forwarded", "X-Original-Forwarded-For", "X-Original-Url")
# Go's http.Request.Write writes these itself (or never), whatever the header map holds.
_WRITTEN_SEPARATELY = frozenset({"Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer"})
# requestMethodUsuallyLacksBody in net/http: an empty body of these is dropped instead of sent chunked.
_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH"})
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
# What Dify's nginx sets itself (proxy.conf and default.conf.template), whatever the client sent.
_SET_BY_NGINX = frozenset({"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "dify-hook-url"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def canonical_header_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-type`` -> ``Content-Type``; odd names untouched."""
    if not _TOKEN.match(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_items(headers: HeaderItems | None) -> list[tuple[str, str]]:
    """Headers as (name, value) pairs, from a mapping or from pairs (which keep repeated names)."""
    return [(str(k), str(v)) for k, v in (headers.items() if isinstance(headers, Mapping) else headers or ())]


def normalize_query(query: str) -> str:
    """``req.URL.Query().Encode()``: what the daemon forwards in place of the client's query string."""
    pairs: list[tuple[bytes, bytes]] = []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if part and ";" not in part and not _BAD_ESCAPE.search(part):
            pairs.append((unquote_to_bytes(key.replace("+", " ")), unquote_to_bytes(value.replace("+", " "))))
    pairs.sort(key=lambda pair: pair[0])  # stable: values of one key keep their order, as in Go
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pairs)


def go_header_value(value: str) -> str:
    """A header value as Go's ``Header.write`` writes it: CR and LF become spaces, the ends are trimmed."""
    return value.replace("\n", " ").replace("\r", " ").strip(" \t\r\n")


def build_daemon_request(
    method: str,
    target: str,
    *,
    headers: HeaderItems | None = None,
    body: bytes = b"",
    hook_id: str,
    host: str = "localhost",
) -> bytes:
    """The raw request the daemon would hand the plugin for ``METHOD /e/<hook_id><target>`` (query string included
    in ``target``); ``host`` is used when ``headers`` carry no ``Host``."""
    raw_path, _, query = target.partition("?")
    path = "/" + unquote(raw_path).removeprefix("/")
    merged: dict[str, list[str]] = {}
    for name, value in header_items(headers):
        merged.setdefault(canonical_header_key(name), []).append(value)
    sent_host = merged.pop("Host", [host])[0]
    host = merged.pop("X-Original-Host", [""])[0] or sent_host
    hook_url = merged.get("Dify-Hook-Url", [""])[0]
    for name in _STRIPPED:
        merged.pop(name, None)
    merged["Dify-Hook-Id"] = [hook_id]
    if not hook_url:
        scheme = "https" if merged.get("X-Forwarded-Proto", [""])[0] == "https" else "http"
        merged["Dify-Hook-Url"] = [f"{scheme}://{host}/e/{hook_id}{path}"]

    # Go's http.Request.Write, for a body that is an in-memory buffer of len(body) bytes; the path is escaped as
    # url.URL.EscapedPath escapes a path just assigned (newReq.URL.Path = path).
    method = method.upper()
    payload = body[:MAX_BODY_BYTES]
    encoded_query = normalize_query(query)
    request_target = quote(path, safe="/$&+,:;=@") + (f"?{encoded_query}" if encoded_query else "")
    user_agent = go_header_value(merged["User-Agent"][0]) if "User-Agent" in merged else "Go-http-client/1.1"
    lines = [f"{method} {request_target} HTTP/1.1", f"Host: {host}", f"User-Agent: {user_agent}"]
    if payload:
        lines.append(f"Content-Length: {len(payload)}")
    elif method not in _METHODS_WITHOUT_BODY:
        lines.append("Transfer-Encoding: chunked")
        payload = b"0\r\n\r\n"
    elif method not in ("GET", "HEAD"):
        lines.append("Content-Length: 0")
    for name in sorted(merged.keys() - _WRITTEN_SEPARATELY):
        lines.extend(f"{name}: {go_header_value(value)}" for value in merged[name])
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + payload


def nginx_host(host_header: str | None, fallback: str) -> str:
    """nginx's ``$host``: the Host header's name, lower-cased, without its port (``fallback`` when missing)."""
    host = (host_header or "").strip().lower()
    if not host:
        return fallback
    return "".join(host.partition("]")[:2]) if host.startswith("[") else host.split(":", 1)[0]


def nginx_headers(
    headers: HeaderItems | None,
    *,
    request_uri: str,
    client_ip: str,
    fallback_host: str,
    public_host: str | None = None,
    scheme: str = "http",
    server_port: int = 80,
) -> list[tuple[str, str]]:
    """The headers Dify's nginx sends the daemon for a request to ``/e/``.

    * hop-by-hop headers, and any named in ``Connection``, are not passed on;
    * header names holding ``_`` are dropped (``underscores_in_headers`` is off by default), so they never reach
      the SDK's parser;
    * ``Host`` becomes ``$host`` (no port; ``public_host``, the name Dify is reached at, when given, whatever address
      the client used), ``X-Forwarded-For`` gets the client's address appended, ``X-Forwarded-Proto`` is
      ``$scheme``, ``X-Forwarded-Port`` is ``$server_port`` (the port nginx listens on), and ``Connection`` is
      cleared (``proxy.conf``);
    * ``Dify-Hook-Url`` is ``$scheme://$host$request_uri``: the raw URI as the client sent it, query string
      included, replacing whatever the client sent under that name.

    From langgenius/dify ``docker/nginx/conf.d/default.conf.template`` and ``docker/nginx/proxy.conf.template``.
    """
    items = header_items(headers)
    named = {
        token.strip().lower() for name, value in items if name.lower() == "connection" for token in value.split(",")
    }
    items = [(name, value) for name, value in items if name.lower() not in _HOP_BY_HOP | named]
    first = {name.lower(): value for name, value in reversed(items)}
    host = nginx_host(public_host or first.get("host"), fallback_host)
    sent_for = first.get("x-forwarded-for")
    return [
        ("Host", host),
        *((name, value) for name, value in items if "_" not in name and name.lower() not in _SET_BY_NGINX),
        ("X-Forwarded-For", f"{sent_for}, {client_ip}" if sent_for else client_ip),
        ("X-Forwarded-Proto", scheme),
        ("X-Forwarded-Port", str(server_port)),
        ("Dify-Hook-Url", f"{scheme}://{host}{request_uri}"),
    ]


def go_json(value: Any, *, sort_keys: bool = True) -> str:
    """``json.Marshal`` as Go writes it: compact, ``<``, ``>`` and ``&`` escaped.

    Go sorts the keys of a map but keeps a struct's field order: pass ``sort_keys=False`` for a struct.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


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
