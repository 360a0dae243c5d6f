"""One request's view of the endpoint's authorization server: its site, its signer, its grants, its keys.

OAuth is served only on an endpoint with api keys: there the keys approve clients, and a token speaks for the
key that approved it. An endpoint without api keys needs no authorization, and nothing changes there: every OAuth
route answers 404 and ``/mcp`` never asks for a token.
"""

import hashlib
import hmac
from dataclasses import dataclass

from relay.core.access import Caller
from relay.core.shell import Exchange
from relay.oauth.errors import no_address, not_served
from relay.oauth.grants import Grants
from relay.oauth.signing import KEY_ID, Signer
from relay.oauth.site import Site, site_of


@dataclass(frozen=True)
class AuthorizationServer:
    site: Site
    signer: Signer
    grants: Grants
    keys: tuple[str, ...]

    def key_id(self, key: str) -> str:
        """What codes and tokens record of the api key that approved them: a mac of its fingerprint, so that a
        token shows nothing of the key, and works only while the key stays in the settings."""
        return self.signer.mac(KEY_ID, str(Caller.of_key(key).fingerprint))[:22]

    def key_of(self, key_id: object) -> str | None:
        """The configured key a recorded id stands for, compared with every key (no early exit); ``None`` once
        that key is gone from the settings: what it approved is revoked with it."""
        if not isinstance(key_id, str):
            return None
        found = None
        for key in self.keys:
            if hmac.compare_digest(self.key_id(key).encode(), key_id.encode()):
                found = key
        return found


def server_of(exchange: Exchange) -> AuthorizationServer:
    """The endpoint's authorization server; 404 on an endpoint without api keys, a 500 saying what to set when
    the endpoint's public address is unknown or its ``public_url`` is wrong."""
    if not exchange.rules.api_keys:
        raise not_served()
    site = site_of(exchange.settings, exchange.dify.endpoint_url)
    if site is None:
        raise no_address()
    endpoint_id = exchange.dify.endpoint_id
    digest = hashlib.sha256(f"app-relay oauth endpoint\0{endpoint_id}".encode()).hexdigest()
    return AuthorizationServer(
        site,
        Signer(exchange.dify.storage, endpoint_id, site.issuer),
        Grants(exchange.dify.storage, digest),
        exchange.rules.api_keys,
    )
