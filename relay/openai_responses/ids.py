"""Response ids that carry what continuing a response needs, signed: no storage is read to continue one.

A Responses client continues a response by its id (``previous_response_id``), and may fetch it again by that id.
So the id itself says which app answered, which Dify conversation the answer belongs to, when it was made, and
which storage slot keeps its copy (``relay.openai_responses.kept``), if one does. Continuing a conversation then
needs no storage at all, and an id works as long as Dify keeps the conversation.

``resp_`` then the base64url (unpadded) of these bytes:

====================  =====  ==========================================================================
field                 bytes  meaning
====================  =====  ==========================================================================
version               1      ``1``
flags                 1      1: a slot keeps a copy (``share``, ``slot``); 2: a conversation id follows
created_at            4      seconds since 1970, big-endian
share, slot           1 + 1  where the copy is kept (zero when none is)
nonce                 8      random: no two responses share an id, nor their output items' ids
app id                16     the app that answered (a UUID), encrypted
conversation id       16     the Dify conversation (a UUID), encrypted, when there is one
MAC                   16     HMAC-SHA256, cut to 128 bits
====================  =====  ==========================================================================

The two ids are encrypted (XOR with HMAC-SHA256 of the bytes before them, a keystream no other id shares, since the
nonce is random): a conversation id is a bearer capability elsewhere on the endpoint (``conversation_id`` of the
Chat Completions and native routes), so an id that leaks must not hand it out. The MAC covers the endpoint id, the
fingerprint of the caller's api key and every byte before it (encrypted), under a key of its own. Both keys are
derived, each for its purpose alone, from the plugin's signing secret (the one ``relay.core.served`` keeps in plugin
storage for file addresses). So an id works only on the endpoint that made it and only for the api key that asked:
another key's id reads as no id at all, and is refused as not found. A file address and a response id can never be
taken for each other: their keys differ, and so do their layouts. On an endpoint without api keys nobody can be
told apart, and an id is a bearer capability there, as a Dify conversation id is.
"""

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relay.core.access import Caller
from relay.core.invoke import CONVERSATION_ID
from relay.core.served import signing_secret

if TYPE_CHECKING:
    from relay.core.dify import Storage

PREFIX = "resp_"
VERSION = 1
MAX_ID_CHARS = 128
"""Longer than any id this module makes (91 characters): such a text is not looked at."""
_KEPT, _CONVERSATION = 1, 2
_HEAD = struct.Struct(">BBIBB8s")
_MAC_BYTES = 16
_SIGNING = b"app-relay response ids v1: signing"
_SEALING = b"app-relay response ids v1: sealing"


@dataclass(frozen=True)
class Slot:
    """Where a response's copy is kept: a caller's share of the store, and one of its slots."""

    share: int
    index: int


@dataclass(frozen=True)
class ResponseRef:
    """What a response id says, once its signature holds."""

    app_id: str
    conversation_id: str | None
    created_at: int
    nonce: bytes
    slot: Slot | None
    """``None``: no copy is kept (``store: false``, or storage could not reserve a slot)."""

    @property
    def suffix(self) -> str:
        """What the ids of the response's output items end with (``msg_<suffix>``)."""
        return self.nonce.hex()


class ResponseIds:
    """Makes and reads the response ids of one endpoint, for one caller."""

    def __init__(self, storage: "Storage", endpoint_id: str, caller: Caller) -> None:
        self._storage = storage
        self._bound = b"\0".join((endpoint_id.encode("utf-8", "replace"), (caller.fingerprint or "").encode()))
        self._key: tuple[bytes, bytes] | None = None

    def make(self, ref: ResponseRef) -> str:
        """The id of ``ref``. A conversation id that is not a UUID is left out: Dify's are, and no other could
        ever be continued (``relay.core.invoke`` refuses them)."""
        conversation = (
            ref.conversation_id if ref.conversation_id and CONVERSATION_ID.fullmatch(ref.conversation_id) else None
        )
        flags = (_KEPT if ref.slot else 0) | (_CONVERSATION if conversation else 0)
        slot = ref.slot or Slot(0, 0)
        head = _HEAD.pack(VERSION, flags, ref.created_at & 0xFFFFFFFF, slot.share, slot.index, ref.nonce)
        hidden = uuid.UUID(ref.app_id).bytes + (uuid.UUID(conversation).bytes if conversation else b"")
        payload = head + self._seal(head, hidden)
        token = base64.urlsafe_b64encode(payload + self._mac(payload)).rstrip(b"=").decode("ascii")
        return PREFIX + token

    def read(self, text: object) -> ResponseRef | None:
        """What the id ``text`` says, if this endpoint made it for this caller; ``None`` for anything else."""
        if not isinstance(text, str) or len(text) > MAX_ID_CHARS or not text.startswith(PREFIX):
            return None
        token = text[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) not in (_HEAD.size + 16 + _MAC_BYTES, _HEAD.size + 32 + _MAC_BYTES):
            return None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        head = payload[: _HEAD.size]
        version, flags, created_at, share, index, nonce = _HEAD.unpack(head)
        hidden = self._seal(head, payload[_HEAD.size :])  # the same keystream opens what it sealed
        has_conversation = bool(flags & _CONVERSATION)
        if version != VERSION or has_conversation != (len(hidden) == 32):
            return None
        return ResponseRef(
            app_id=str(uuid.UUID(bytes=hidden[:16])),
            conversation_id=str(uuid.UUID(bytes=hidden[16:])) if has_conversation else None,
            created_at=created_at,
            nonce=nonce,
            slot=Slot(share, index) if flags & _KEPT else None,
        )

    def _mac(self, payload: bytes) -> bytes:
        key = self._keys()[0]
        return hmac.new(key, self._bound + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def _seal(self, head: bytes, data: bytes) -> bytes:
        """``data`` (at most 32 bytes) XOR a keystream that only this id's head (its random nonce) gives."""
        stream = hmac.new(self._keys()[1], head, hashlib.sha256).digest()
        return bytes(a ^ b for a, b in zip(data, stream, strict=False))

    def _keys(self) -> tuple[bytes, bytes]:
        """The signing key and the sealing key, each derived from the plugin's secret for that purpose alone: what
        signs file addresses never signs nor seals an id."""
        if self._key is None:
            secret = signing_secret(self._storage)
            self._key = (
                hmac.new(secret, _SIGNING, hashlib.sha256).digest(),
                hmac.new(secret, _SEALING, hashlib.sha256).digest(),
            )
        return self._key
