"""What stands between a client and the plugin in Dify: its nginx, which rewrites the request's headers
(``nginx_headers``), and the error bodies the daemon writes itself. The request bytes the daemon then hands the
plugin are ``devkit.plugin.build_daemon_request``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from devkit.plugin import HeaderItems, header_items

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
# What Dify's nginx sets itself (proxy.conf and default.conf.template), whatever the client sent.
_SET_BY_NGINX = frozenset({"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "dify-hook-url"})


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
