"""The responses kept for ``GET /v1/responses/{id}``: each caller's last few, small ones, for a week, in plugin storage.

What is kept: the response object as its client received it last (output text and reasoning, status, usage,
error, metadata), compressed; never the request's input or instructions. Only when the request did not say
``store: false``, and once the response has ended: a response still streaming is not found yet.

The bounds (plugin storage holds 1 MiB per workspace, ``manifest.yaml``, of which ``relay.core.conversations``
may take up to 476 KiB):

* ``MAX_CALLERS`` (8) callers keep responses, a caller being an api key on one endpoint (on an endpoint without
  keys, everyone together). A ninth takes over the share of the one that reserved a slot least recently: its
  responses give way to the newcomer's, slot by slot;
* ``KEPT_PER_CALLER`` (8): a caller's last 8 responses; the ninth takes the slot of the first;
* ``MAX_RECORD_BYTES`` (6 KiB) per response, compressed (some 15 to 20 KiB of text; one over 1 MiB as JSON is not
  compressed at all): a larger one is not kept, and ``GET`` says so;
* ``KEPT_SECONDS`` (7 days): an older one is not served any more.

So the store never holds more than 8 x 8 records of at most 6 KiB (384 KiB, ``MAX_KEPT_BYTES``) plus its
bookkeeping, and no storage message comes anywhere near the daemon's 5 MiB line.

Storage layout (ASCII keys, far below the daemon's 256 bytes):

* ``ar2:rb`` — the callers that keep responses, by share: up to ``MAX_CALLERS`` ``<16 hex>.<unix time>`` (the
  caller's digest, and when it last reserved a slot);
* ``ar2:rn:<share>`` — the share's next slot;
* ``ar2:rr:<share>:<slot>`` — a kept response: ``<caller 16 hex> <nonce 16 hex> <unix time>`` and a new line,
  then its JSON compressed with zlib (or ``-``: it was too large to keep).

A slot is reserved when the response's id is made (the id names it, so ``GET`` reads one key) and written when the
response ends. Two responses that race for one slot: the one written last holds it, the other is not found; the
bounds hold either way, and nothing is ever left behind that no slot names.
"""

import hashlib
import json
import logging
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relay.core.access import Caller
from relay.core.wire import json_bytes
from relay.openai_responses.ids import Slot

if TYPE_CHECKING:
    from relay.core.dify import Storage

logger = logging.getLogger(__name__)

PREFIX = "ar2:r"
MAX_CALLERS = 8
KEPT_PER_CALLER = 8
MAX_RECORD_BYTES = 6 * 1024
KEPT_SECONDS = 7 * 24 * 3600
MAX_DOCUMENT_BYTES = 1024 * 1024
"""A response whose JSON is larger is not even compressed (it could not fit: text compresses some 3 to 4 times,
and compressing megabytes would hold up the one event loop every request shares); nor does a record ever open
into more."""
_REGISTRY_BYTES = MAX_CALLERS * (16 + 1 + 10 + 1)
MAX_KEPT_BYTES = MAX_CALLERS * KEPT_PER_CALLER * MAX_RECORD_BYTES + _REGISTRY_BYTES + MAX_CALLERS * 2
"""Everything this store can hold in plugin storage at once (records, registry, counters)."""
TOO_LARGE = b"-"


@dataclass(frozen=True)
class Found:
    """What the store says of one response: its document, or why there is none."""

    document: dict[str, Any] | None = None
    reason: str = "gone"
    """``gone`` (replaced by newer ones, or never written), ``expired`` or ``too_large``."""


class KeptResponses:
    """The kept responses of one caller on one endpoint."""

    def __init__(self, storage: "Storage", endpoint_id: str, caller: Caller) -> None:
        self.storage = storage
        who = f"{endpoint_id}\0{caller.fingerprint or 'anyone'}"
        self.owner = hashlib.sha256(f"app-relay kept responses\0{who}".encode("utf-8", "replace")).hexdigest()[:16]

    def reserve(self, now: float | None = None) -> Slot | None:
        """The slot the next response of this caller is kept in (the oldest of its share); ``None`` when storage
        cannot keep anything (not enabled, full): the response is then not kept."""
        now = time.time() if now is None else now
        try:
            share = self._share(int(now))
            counter = f"{PREFIX}n:{share}"
            loaded = self._load(counter)
            index = int(loaded) % KEPT_PER_CALLER if loaded and loaded.isdigit() else 0
            self.storage.set(counter, str((index + 1) % KEPT_PER_CALLER).encode())
        except Exception as exc:
            logger.warning("could not reserve a slot for a response in plugin storage: %s", exc)
            return None
        return Slot(share, index)

    def keep(self, slot: Slot, nonce: bytes, document: dict[str, Any], now: float | None = None) -> bool:
        """Write ``document`` into ``slot``, or a note that it was too large to keep."""
        now = time.time() if now is None else now
        raw = json_bytes(document)
        body = zlib.compress(raw, 6) if len(raw) <= MAX_DOCUMENT_BYTES else TOO_LARGE
        head = f"{self.owner} {nonce.hex()} {int(now)}\n".encode()
        fits = body != TOO_LARGE and len(head) + len(body) <= MAX_RECORD_BYTES
        value = head + (body if fits else TOO_LARGE)
        try:
            self.storage.set(_record_key(slot), value)
        except Exception as exc:  # storage full or not enabled: GET will say the response is not kept
            logger.warning("could not keep a response in plugin storage: %s", exc)
            return False
        return fits

    def find(self, slot: Slot, nonce: bytes, now: float | None = None) -> Found:
        """The response this caller kept in ``slot`` under ``nonce``, if it is still there and recent."""
        now = time.time() if now is None else now
        if not (0 <= slot.share < MAX_CALLERS and 0 <= slot.index < KEPT_PER_CALLER):
            return Found()
        try:
            value = self.storage.get(_record_key(slot))
        except Exception:  # Dify's "load data failed" for a key never written
            return Found()
        head, _, body = value.partition(b"\n") if isinstance(value, bytes) else (b"", b"", b"")
        fields = head.decode("ascii", "replace").split(" ")
        if len(fields) != 3 or fields[0] != self.owner or fields[1] != nonce.hex() or not fields[2].isdigit():
            return Found()  # another response took the slot since (this caller's, or a caller that took the share)
        if now - int(fields[2]) > KEPT_SECONDS:
            return Found(reason="expired")
        if body == TOO_LARGE:
            return Found(reason="too_large")
        try:
            opener = zlib.decompressobj()
            text = opener.decompress(body, MAX_DOCUMENT_BYTES)
            document = json.loads(text) if not opener.unconsumed_tail else None
        except (zlib.error, ValueError):
            document = None
        return Found(document) if isinstance(document, dict) else Found()

    def _share(self, now: int) -> int:
        """This caller's share, its last use now: where it is registered, else a free one, else the one used
        least recently (taken over)."""
        registry = [entry.partition(".") for entry in (self._load(PREFIX + "b") or "").split(",") if entry]
        entries = [(owner, int(used) if used.isdigit() else 0) for owner, _, used in registry][:MAX_CALLERS]
        owners = [owner for owner, _ in entries]
        if self.owner in owners:
            share = owners.index(self.owner)
        elif len(entries) < MAX_CALLERS:
            entries.append((self.owner, now))
            share = len(entries) - 1
        else:
            share = min(range(len(entries)), key=lambda at: entries[at][1])
        entries[share] = (self.owner, now)
        self.storage.set(PREFIX + "b", ",".join(f"{owner}.{used}" for owner, used in entries).encode())
        return share

    def _load(self, key: str) -> str | None:
        try:
            found = self.storage.get(key)
        except Exception:  # an unknown key: nothing yet
            return None
        text = found.decode("ascii", "replace").strip() if isinstance(found, bytes) else ""
        return text or None


def _record_key(slot: Slot) -> str:
    return f"{PREFIX}r:{slot.share}:{slot.index}"
