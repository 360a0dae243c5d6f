"""Plugin storage kept the bounded way: small ascii values read tolerantly, and a fixed number of shares.

Dify's plugin storage is one space per workspace, shared by every endpoint of the plugin. A store that keeps
something per endpoint (conversation notes, OAuth grants) gives each endpoint one of ``capacity`` shares: an
endpoint keeps the share it registered for; a new one takes a free share, else the share registered longest ago
(round robin), whose slots it then reuses one by one. So no endpoint, and no number of them, grows the store.
"""

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relay.core.dify import Storage

logger = logging.getLogger(__name__)


def load(storage: "Storage", key: str) -> str | None:
    """The ascii value under ``key``, or ``None``: Dify says "load data failed..." for an unknown key, and any
    failure reads as nothing kept."""
    try:
        found = storage.get(key)
    except Exception as exc:
        logger.debug("nothing kept under %s: %s", key, exc)
        return None
    text = found.decode("ascii", "replace").strip() if isinstance(found, bytes) else ""
    return text or None


def delete(storage: "Storage", key: str) -> None:
    try:
        storage.delete(key)
    except Exception as exc:  # already gone
        logger.debug("nothing to delete under %s: %s", key, exc)


def share_of(storage: "Storage", prefix: str, endpoint: str, capacity: int) -> int:
    """``endpoint``'s share among ``capacity``, registered under ``prefix + "e"`` (the order of registration) and
    ``prefix + "o"`` (the next share to take over)."""
    registered = [item for item in (load(storage, prefix + "e") or "").split(",") if item]
    if endpoint in registered:
        return registered.index(endpoint)
    if len(registered) < capacity:
        registered.append(endpoint)
        share = len(registered) - 1
    else:
        oldest = int(load(storage, prefix + "o") or 0) % capacity
        registered[oldest] = endpoint
        storage.set(prefix + "o", str((oldest + 1) % capacity).encode())
        share = oldest
    storage.set(prefix + "e", ",".join(registered).encode())
    return share


def next_slot(storage: "Storage", prefix: str, share: int, slots: int) -> int:
    """The slot of ``share`` to fill next, in turn among ``slots``: its counter is ``prefix + "n:<share>"``."""
    loaded = load(storage, f"{prefix}n:{share}")
    return int(loaded) % slots if loaded and loaded.isdigit() else 0


def advance(storage: "Storage", prefix: str, share: int, slot: int, slots: int) -> None:
    """Move ``share``'s counter past ``slot``: the slot after it is filled next, the first after the last."""
    storage.set(f"{prefix}n:{share}", str((slot + 1) % slots).encode())


def slot_key(prefix: str, share: int, slot: int) -> str:
    return f"{prefix}s:{share}:{slot}"
