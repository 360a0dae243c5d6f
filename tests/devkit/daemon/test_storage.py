"""The local daemon's plugin storage answers as Dify's daemon does, word for word."""

import binascii

import pytest

from devkit.daemon.storage import (
    KEY_TOO_LONG,
    LOAD_FAILED,
    PERMISSION_DENIED,
    QUOTA_EXCEEDED,
    PluginStorage,
    StorageError,
)


def call(storage: PluginStorage, quota: int | None = 1024, **request) -> dict:
    return storage.answer(request, quota)


def refused(storage: PluginStorage, quota: int | None = 1024, **request) -> str:
    with pytest.raises(StorageError) as caught:
        storage.answer(request, quota)
    return str(caught.value)


def test_set_get_exist_and_delete_answer_with_the_daemons_payloads():
    storage = PluginStorage()
    assert call(storage, opt="set", key="k", value=binascii.hexlify(b"value").decode()) == {"data": "ok"}
    assert call(storage, opt="get", key="k") == {"data": binascii.hexlify(b"value").decode()}
    assert call(storage, opt="exist", key="k") == {"data": True, "exist_num": 1}
    assert call(storage, opt="del", key="k") == {"data": "ok", "deleted_num": 1}
    assert call(storage, opt="exist", key="k") == {"data": False, "exist_num": 0}


def test_missing_keys_and_bad_keys_get_the_daemons_errors():
    storage = PluginStorage()
    assert refused(storage, opt="get", key="missing") == LOAD_FAILED
    assert refused(storage, opt="del", key="missing").startswith("delete data failed: stat ")
    assert refused(storage, opt="set", key="k" * 257, value="00") == KEY_TOO_LONG
    assert call(storage, opt="set", key="k" * 256, value="00") == {"data": "ok"}
    assert refused(storage, opt="set", key="../b", value="00").endswith("path traversal attempt detected")
    assert refused(storage, opt="get", key="a..b") == LOAD_FAILED


def test_storage_must_be_enabled_in_the_manifest():
    assert refused(PluginStorage(), None, opt="get", key="k") == PERMISSION_DENIED


def test_the_quota_is_the_total_and_a_refused_set_is_written_anyway():
    storage = PluginStorage()
    call(storage, 10, opt="set", key="a", value="00" * 6)
    assert refused(storage, 10, opt="set", key="b", value="00" * 6) == QUOTA_EXCEEDED
    assert call(storage, 10, opt="get", key="b") == {"data": "00" * 6}  # the daemon saves before it checks
    call(storage, 10, opt="set", key="a", value="00" * 2)  # shrinking frees room
    assert storage.counted == 2
