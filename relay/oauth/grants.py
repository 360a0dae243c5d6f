"""What OAuth must remember, in plugin storage: bounded, expiring, per endpoint.

Codes and tokens are signed (``relay.oauth.signing``) and say themselves what they grant; two things cannot be
signed, as they change after the fact: that a code was used (codes are single-use), and where a chain of refresh
tokens stands (each refresh token is used once; the use of an older one means that a copy leaked, and revokes the
chain). Both live in one record, the *family*: created when a code is exchanged, under the code's own id, it holds
the chain's generation and whether it was revoked. A second exchange of the same code finds its family and revokes
it (RFC 6749 §4.1.2: the tokens issued for a code used twice are revoked). Access tokens name their family, and
work only while it stands.

Storage layout (every key and value ASCII, keys far below the daemon's 256 bytes):

* ``ar2:of:<32 hex>`` — a family: ``<generation> <created unix> <a|r>`` (active or revoked);
* ``ar2:oe`` — the endpoints that have a share: up to ``MAX_ENDPOINTS`` 16-hex digests, by share;
* ``ar2:oo`` — which share a new endpoint takes over next, once every share is taken;
* ``ar2:on:<share>`` — a share's next slot; ``ar2:os:<share>:<slot>`` — the family a slot holds.

Each endpoint keeps its last ``FAMILIES_PER_ENDPOINT`` families, round robin, oldest out: a family pushed out ends
its tokens (the client authorizes again). A slot is never taken from a family younger than a code's lifetime, so a
code cannot be replayed by pushing its family out: past that rate (``FAMILIES_PER_ENDPOINT`` exchanges within
``CODE_SECONDS``) exchanges are refused until the oldest family is old enough. A ninth endpoint takes over the share
of the one registered longest ago (as ``relay.core.conversations`` does). So OAuth never holds more than
``MAX_STORED_BYTES`` of values, however many requests arrive.
"""

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relay.core import shares

if TYPE_CHECKING:
    from relay.core.dify import Storage

logger = logging.getLogger(__name__)

PREFIX = "ar2:o"
MAX_ENDPOINTS = 8
FAMILIES_PER_ENDPOINT = 128
CODE_SECONDS = 120
"""How long a code works: long enough for a client to exchange it, short enough to bound what is remembered."""
MAX_FAMILY_BYTES = 12 + 1 + 10 + 1 + 1
MAX_STORED_BYTES = (16 + 1) * MAX_ENDPOINTS + 3 + MAX_ENDPOINTS * (4 + FAMILIES_PER_ENDPOINT * (32 + MAX_FAMILY_BYTES))
"""Every value OAuth can hold in storage at once (the secret's 64 bytes aside)."""


class StorageUnavailable(Exception):
    """Plugin storage refused a read or a write OAuth needs (not enabled, full)."""


@dataclass(frozen=True)
class Family:
    ident: str
    generation: int
    created: int
    revoked: bool


def new_family_id() -> str:
    return secrets.token_hex(16)


def is_family_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(char in "0123456789abcdef" for char in value)


class Grants:
    """The families of one endpoint."""

    def __init__(self, storage: "Storage", endpoint_digest: str) -> None:
        self.storage = storage
        self.endpoint = endpoint_digest[:16]

    def find(self, ident: str) -> Family | None:
        """The family ``ident``, if storage holds it (revoked or not); ``None`` when it never was, or is gone."""
        if not is_family_id(ident):
            return None
        held = shares.load(self.storage, self._key(ident))
        if held is None:
            return None
        parts = held.split(" ")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or parts[2] not in ("a", "r"):
            return None
        return Family(ident, int(parts[0]), int(parts[1]), parts[2] == "r")

    def start(self, ident: str, now: float | None = None) -> Family:
        """Note a new family (a code's exchange): take a slot, pushing out the oldest family of the share.
        Raises ``StorageUnavailable``, or ``Busy`` when the share's oldest family is younger than a code."""
        now = int(time.time() if now is None else now)
        try:
            share = shares.share_of(self.storage, PREFIX, self.endpoint, MAX_ENDPOINTS)
            slot, held = self._next_slot(share)
            if held is not None:
                evicted = self.find(held)
                if evicted is not None and now - evicted.created < CODE_SECONDS:
                    raise Busy
                shares.delete(self.storage, self._key(held))
            shares.advance(self.storage, PREFIX, share, slot, FAMILIES_PER_ENDPOINT)
            self.storage.set(shares.slot_key(PREFIX, share, slot), ident.encode("ascii"))
            family = Family(ident, 0, now, False)
            self._write(family)
        except (Busy, StorageUnavailable):
            raise
        except Exception as exc:
            raise StorageUnavailable(str(exc)) from exc
        return family

    def advance(self, family: Family) -> Family:
        """The next generation of a family (a refresh token used)."""
        advanced = Family(family.ident, family.generation + 1, family.created, False)
        self._write(advanced)
        return advanced

    def revoke(self, family: Family) -> None:
        """Revoke a family: a code or a refresh token used twice. Its refresh and access tokens stop working."""
        try:
            self._write(Family(family.ident, family.generation, family.created, True))
        except StorageUnavailable as exc:  # nothing more can be done; said in the log
            logger.warning("could not revoke an OAuth grant in plugin storage: %s", exc)

    def _write(self, family: Family) -> None:
        value = f"{family.generation} {family.created} {'r' if family.revoked else 'a'}"
        try:
            self.storage.set(self._key(family.ident), value.encode("ascii"))
        except Exception as exc:
            raise StorageUnavailable(str(exc)) from exc

    def _next_slot(self, share: int) -> tuple[int, str | None]:
        slot = shares.next_slot(self.storage, PREFIX, share, FAMILIES_PER_ENDPOINT)
        return slot, shares.load(self.storage, shares.slot_key(PREFIX, share, slot))

    @staticmethod
    def _key(ident: str) -> str:
        return PREFIX + "f:" + ident


class Busy(Exception):
    """Every slot of the endpoint's share holds a family younger than a code: too many exchanges at once."""
