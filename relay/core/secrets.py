"""The plugin's signing secrets: 32 random bytes each, made on first use and kept in plugin storage.

Each is stored as 64 hex characters under its own key (``ar2:files-secret`` signs file addresses and response ids,
``ar2:oauth-secret`` what OAuth hands out); every user derives its own keys from one, per purpose, so that nothing
signed for one use is valid for another. A storage that cannot keep a secret (not enabled, full) gets one made for
this process instead: what it signs then stays valid as long as the process runs.
"""

import logging
import secrets
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relay.core.dify import Storage

logger = logging.getLogger(__name__)

_process_secrets: dict[str, bytes] = {}
_lock = threading.Lock()


def stored_secret(storage: "Storage", key: str) -> bytes:
    """The secret kept under ``key``, made and written on first use, then read back: when two copies of the plugin
    make one at once, both sign with the one that stayed."""
    found = _read(storage, key)
    if found is not None:
        return found
    try:
        storage.set(key, secrets.token_hex(32).encode("ascii"))
    except Exception as exc:
        logger.warning("plugin storage cannot keep %s (%s): this process signs with its own", key, exc)
        return process_secret(key)
    return _read(storage, key) or process_secret(key)


def process_secret(key: str) -> bytes:
    """This process's stand-in for the secret under ``key``."""
    with _lock:
        return _process_secrets.setdefault(key, secrets.token_bytes(32))


def _read(storage: "Storage", key: str) -> bytes | None:
    try:
        stored = storage.get(key)
    except Exception:  # Dify's "load data failed" for a key never written
        return None
    if isinstance(stored, bytes) and len(stored) == 64:
        try:
            return bytes.fromhex(stored.decode("ascii"))
        except ValueError:
            return None
    return None
