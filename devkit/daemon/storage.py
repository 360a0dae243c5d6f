"""``session.storage`` as Dify's daemon offers it, in memory and its exact words (``executeDifyInvocationStorageTask``
in ``internal/core/io_tunnel/backwards_invocation/task.go``; ``internal/core/persistence/persistence.go``):

* one ``response`` (message ``struct``, ``data`` as ``answer`` returns it, values hex) or one ``error``, then ``end``;
* the manifest must enable ``resource.permission.storage`` (else ``PERMISSION_DENIED``);
* a key over 256 bytes is not saved, one with ``..`` (path cleaned) always refused, a missing one not read or deleted;
* the quota is the manifest's ``storage.size``, for the total of all values. A set that passes it fails *after*
  the value was written (the daemon saves, then checks), and the counted total does not change;
* no expiry; one store per plugin and workspace, shared by every endpoint."""

import binascii
import posixpath
import threading
from collections.abc import Mapping
from typing import Any

PERMISSION_DENIED = "permission denied, you need to enable storage access in plugin manifest"
LOAD_FAILED = "load data failed, please check if the key is correct or you have not set it"
KEY_TOO_LONG = "save data failed: key length must be less than 256 characters"
QUOTA_EXCEEDED = "save data failed: allocated size is greater than max storage size"
TRAVERSAL = "invalid key: path traversal attempt detected"


class StorageError(Exception):
    """An answer the daemon gives as an ``error`` event; its text is sent as it is."""


class PluginStorage:
    """One plugin's storage in one workspace. Thread-safe; keep one across plugin restarts, as Dify does."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.counted = 0  # the daemon's size counter (it can lag behind ``values``: see the quota above)
        self._lock = threading.Lock()

    def answer(self, request: Mapping[str, Any], quota: int | None) -> dict[str, Any]:
        """The daemon's response ``data``, or ``StorageError``; ``quota``: ``storage.size`` (``None``: not enabled)."""
        if quota is None:
            raise StorageError(PERMISSION_DENIED)
        operation, key = request.get("opt"), str(request.get("key") or "")
        verb = {"set": "save", "get": "load", "exist": "exist", "del": "delete"}.get(str(operation))
        if verb is None or not key:
            raise StorageError("unmarshal backwards invoke request failed: error validating struct: opt and key")
        if ".." in posixpath.normpath(key) or "\\" in key:
            raise StorageError(LOAD_FAILED if verb == "load" else f"{verb} data failed: {TRAVERSAL}")
        with self._lock:
            if operation == "set":
                if len(key.encode()) > 256:
                    raise StorageError(KEY_TOO_LONG)
                try:
                    value = binascii.unhexlify(str(request.get("value") or ""))
                except (binascii.Error, ValueError) as exc:
                    raise StorageError(f"decode data failed: {exc}") from None
                grows = len(value) - len(self.values.get(key, b""))
                self.values[key] = value  # written before the check, as the daemon does
                if self.counted + grows > quota:
                    raise StorageError(QUOTA_EXCEEDED)
                self.counted += grows
                return {"data": "ok"}
            if operation == "get":
                if key not in self.values:
                    raise StorageError(LOAD_FAILED)
                return {"data": binascii.hexlify(self.values[key]).decode()}
            if operation == "exist":
                return {"data": key in self.values, "exist_num": int(key in self.values)}
            if key not in self.values:
                raise StorageError(f"delete data failed: stat persistence/{key}: no such file or directory")
            self.counted -= len(self.values.pop(key))
            return {"data": "ok", "deleted_num": 1}
