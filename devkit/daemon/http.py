"""Between a client and the plugin in Dify: nginx's rewrite of the request's headers (``nginx_headers``) and the
daemon's own error bodies. The bytes the daemon then hands the plugin are ``devkit.plugin.build_daemon_request``'s."""

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
    server_port: int = 80,
) -> list[tuple[str, str]]:
    """The headers Dify's nginx (``docker/nginx/conf.d/default.conf.template``, ``docker/nginx/proxy.conf.template``
    in langgenius/dify) sends the daemon for a request to ``/e/``:

    * hop-by-hop headers, any named in ``Connection`` and names with ``_`` (``underscores_in_headers`` off: they never
      reach the SDK's parser) are dropped;
    * ``Host`` is ``$host`` (no port; ``public_host``, if given, whatever address the client used), ``X-Forwarded-For``
      gets the client's address appended, ``X-Forwarded-Proto`` is ``$scheme`` (http), ``X-Forwarded-Port``
      ``$server_port`` (nginx's); ``Connection`` is cleared;
    * ``Dify-Hook-Url`` is ``$scheme://$host$request_uri``: the raw URI and query, replacing any the client sent."""
    items = header_items(headers)
    named = {t.strip().lower() for name, value in items if name.lower() == "connection" for t in value.split(",")}
    items = [(name, value) for name, value in items if name.lower() not in _HOP_BY_HOP | named]
    first = {name.lower(): value for name, value in reversed(items)}
    host = nginx_host(public_host or first.get("host"), fallback_host)
    sent_for = first.get("x-forwarded-for")
    return [
        ("Host", host),
        *((name, value) for name, value in items if "_" not in name and name.lower() not in _SET_BY_NGINX),
        ("X-Forwarded-For", f"{sent_for}, {client_ip}" if sent_for else client_ip),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Port", str(server_port)),
        ("Dify-Hook-Url", f"http://{host}{request_uri}"),
    ]


def go_json(value: Any, *, sort_keys: bool = True) -> str:
    """Go's ``json.Marshal``: compact, ``<>&`` escaped, map keys sorted (``sort_keys=False``: struct field order)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    return text.translate({ord(char): f"\\u{ord(char):04x}" for char in "<>&\u2028\u2029"})


def plugin_error_text(error: Mapping[str, Any] | None, fallback: str) -> str:
    """``ErrorResponse.Error()``: how the daemon words a plugin's session ``error`` (traceback included)."""
    if not error:
        return fallback
    return go_json(
        {"message": error.get("message", ""), "error_type": error.get("error_type", ""), "args": error.get("args")}
    )


NOT_FOUND_BODY = b'{"code":"not_found","message":"route not found"}'
"""gin's ``NoRoute`` (``internal/server/http_server.go``) for any route missing, PATCH too: ``c.JSON(404, gin.H{...})``,
a Go map, so the keys come sorted."""

GIN_JSON = "application/json; charset=utf-8"  # of every ``c.JSON`` answer (gin's JSON renderer)

NGINX_BAD_REQUEST = (
    b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
    b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
"""nginx's own 400 page (``ngx_http_special_response.c``) for a request it cannot parse (a NUL in its request line or
headers, a ``%00`` in its path), closing the connection; Dify's image (``server_tokens`` on) names the version."""


def daemon_error_body(message: str) -> bytes:
    """The JSON body of ``exception.InternalServerError(err).ToResponse()``: its ``message`` is itself a JSON document
    (``internal/types/exception/generic.go``, ``pkg/entities/response.go``; gin adds no newline)."""
    inner = {"message": message, "error_type": "PluginDaemonInternalServerError", "args": None}
    return go_json({"code": -500, "message": go_json(inner, sort_keys=False), "data": None}, sort_keys=False).encode()
