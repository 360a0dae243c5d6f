"""Client ID Metadata Documents: a client whose id is an https URL is what the JSON document there says.

Fetching a URL that anyone may name is a way into the network the plugin runs in, so every fetch is bounded:

* ``https`` only, on the default or a named port, no user name, a path (not the root), at most
  ``MAX_CLIENT_ID_CHARS``;
* the host is resolved once, and refused when any of its addresses is not a public one (loopback, private,
  link-local, shared, reserved, multicast, an IPv4 address inside IPv6); the connection goes to the address that was
  checked, so a second resolution cannot point it elsewhere (DNS rebinding), and TLS checks the certificate for
  the host name;
* at most ``MAX_DOCUMENT_BYTES`` of body, ``FETCH_SECONDS`` in all (connecting, TLS, every read), no redirect
  (anything but a 200 is refused);
* the document is a JSON object whose ``client_id`` is the URL exactly, with ``redirect_uris`` (checked as a
  registration's are), an optional ``client_name``, and ``token_endpoint_auth_method`` ``none`` if any: a
  document's client is public.

Documents are kept for ``CACHE_SECONDS`` (failures for ``FAILURE_SECONDS``), ``MAX_CACHED`` of them, in this
process. The resolver and the transport can be replaced (tests serve documents without a network); the checks
above are this module's and apply whatever they are.
"""

import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from relay.core.errors import RelayError, shown
from relay.oauth.clients import Client, checked_name, checked_redirect_uris
from relay.oauth.errors import oauth_error

MAX_CLIENT_ID_CHARS = 512
MAX_DOCUMENT_BYTES = 5 * 1024
FETCH_SECONDS = 3.0
CACHE_SECONDS = 300.0
FAILURE_SECONDS = 60.0
MAX_CACHED = 64
HTTPS_PORT = 443

Resolver = Callable[[str, int], list[str]]
"""A host name and port -> the addresses it resolves to (``socket.getaddrinfo``'s)."""


class FetchError(Exception):
    """Why a document could not be had: said to the person on the authorization page."""


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes


class Transport(Protocol):
    def get(self, address: str, host: str, port: int, target: str, seconds: float, limit: int) -> Fetched:
        """GET ``target`` from ``host`` at ``address`` (already checked), over TLS for ``host``, within ``seconds``
        in all, reading at most ``limit + 1`` bytes of body. Raises ``FetchError``."""
        ...


def system_resolver(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"its host {host} could not be resolved") from exc
    return list(dict.fromkeys(str(item[4][0]) for item in found))


class _PinnedConnection(http.client.HTTPSConnection):
    """An https connection to an address already checked, with TLS for the host name the URL gives."""

    def __init__(self, address: str, host: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class HttpsTransport:
    """The standard library's https client, connected to a given address, every step within the deadline."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.context = context or ssl.create_default_context()

    def get(self, address: str, host: str, port: int, target: str, seconds: float, limit: int) -> Fetched:
        deadline = time.monotonic() + seconds
        connection = _PinnedConnection(address, host, port, _remaining(deadline), self.context)
        try:
            connection.request(
                "GET",
                target,
                headers={"Accept": "application/json", "Accept-Encoding": "identity", "User-Agent": "App-Relay"},
            )
            _set_timeout(connection, deadline)
            response = connection.getresponse()
            body = b""
            while True:
                _set_timeout(connection, deadline)
                piece = response.read1(1024) if response.status == 200 else b""
                if not piece:
                    break
                body += piece
                if len(body) > limit:
                    break
            return Fetched(response.status, body)
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= deadline or isinstance(exc, TimeoutError):
                raise FetchError(f"it did not answer within {FETCH_SECONDS:g} seconds") from exc
            raise FetchError(f"it could not be fetched ({type(exc).__name__})") from exc
        finally:
            connection.close()


class MetadataDocuments:
    """The clients metadata documents name, fetched within bounds and kept a while."""

    def __init__(
        self,
        resolver: Resolver = system_resolver,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolver = resolver
        self.transport = transport or HttpsTransport()
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, Client | str]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str) -> Client:
        """The client ``url`` names, or ``invalid_client`` saying why not."""
        now = self.clock()
        with self._lock:
            held = self._cache.get(url)
            if held is not None and held[0] > now:
                found = held[1]
                if isinstance(found, Client):
                    return found
                raise _refused(url, found)
        try:
            client: Client | str = self._fetch(url)
        except FetchError as exc:
            client = str(exc)
        except RelayError as exc:  # the document's own metadata is refused
            client = exc.message
        with self._lock:
            keep = CACHE_SECONDS if isinstance(client, Client) else FAILURE_SECONDS
            self._cache[url] = (self.clock() + keep, client)
            self._cache.move_to_end(url)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        if isinstance(client, str):
            raise _refused(url, client)
        return client

    def _fetch(self, url: str) -> Client:
        deadline = self.clock() + FETCH_SECONDS
        host, port, target = _checked_url(url)
        addresses = self.resolver(host, port)
        if not addresses:
            raise FetchError(f"its host {host} has no address")
        for address in addresses:
            reason = non_public_reason(address)
            if reason is not None:
                raise FetchError(f"its host {host} resolves to {address}, {reason}, which this server never fetches")
        if self.clock() >= deadline:
            raise FetchError(f"it did not answer within {FETCH_SECONDS:g} seconds")
        fetched = self.transport.get(addresses[0], host, port, target, deadline - self.clock(), MAX_DOCUMENT_BYTES)
        if self.clock() >= deadline:
            raise FetchError(f"it did not answer within {FETCH_SECONDS:g} seconds")
        if fetched.status != 200:
            kind = "a redirect, which is not followed" if 300 <= fetched.status < 400 else "not the document"
            raise FetchError(f"it answered HTTP {fetched.status}: {kind}")
        if len(fetched.body) > MAX_DOCUMENT_BYTES:
            raise FetchError(f"it is larger than {MAX_DOCUMENT_BYTES} bytes")
        return document_client(url, fetched.body)


def document_client(url: str, body: bytes) -> Client:
    """The client a fetched document describes, checked."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FetchError("it is not JSON") from None
    if not isinstance(document, dict):
        raise FetchError("it is not a JSON object")
    if document.get("client_id") != url:
        raise FetchError(f"its client_id {shown(document.get('client_id'))} is not its own URL")
    redirect_uris = checked_redirect_uris(document.get("redirect_uris"), "invalid_client")
    name = checked_name(document.get("client_name"), "invalid_client")
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise FetchError(f"its token_endpoint_auth_method {shown(method)} is not served here (only none)")
    return Client(url, redirect_uris, name, "none", document=True)


def non_public_reason(address: str) -> str | None:
    """Why an address is not one to fetch from, or ``None`` for a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None or ip in ipaddress.IPv6Network("64:ff9b::/96"):
            return "an IPv4 address inside an IPv6 one"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or not ip.is_global:
        return "a private or reserved address"
    if ip.is_reserved or ip.is_unspecified:
        return "a reserved address"  # pragma: no cover - not global either
    return None


def _checked_url(url: str) -> tuple[str, int, str]:
    if len(url) > MAX_CLIENT_ID_CHARS:
        raise FetchError(f"a client id URL is at most {MAX_CLIENT_ID_CHARS} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise FetchError("it holds characters a URL cannot")
    try:
        parts = urlsplit(url)
        port = parts.port or HTTPS_PORT
    except ValueError:
        raise FetchError("it cannot be read as a URL") from None
    if parts.scheme != "https" or not parts.hostname:
        raise FetchError("it is not an https URL")
    if parts.username is not None or parts.password is not None or "#" in url:
        raise FetchError("it names a user or has a fragment")
    if parts.path in ("", "/"):
        raise FetchError("it has no path (a client id URL names a document, not a site)")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, target


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.001)


def _set_timeout(connection: http.client.HTTPSConnection, deadline: float) -> None:
    if time.monotonic() >= deadline:
        raise TimeoutError
    if connection.sock is not None:
        connection.sock.settimeout(_remaining(deadline))


def _refused(url: str, reason: str) -> RelayError:
    return oauth_error(401, "invalid_client", f"The client metadata document {shown(url)} cannot be used: {reason}.")


DOCUMENTS = MetadataDocuments()
"""This process's documents (one plugin process serves every endpoint of the plugin)."""
