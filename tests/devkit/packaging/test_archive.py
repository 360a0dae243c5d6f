"""The ``.difypkg`` archive format and the daemon's package checksum."""

import hashlib
import io
import zipfile

import pytest

from devkit.packaging.archive import build_archive, file_entry, package_checksum, read_entries

FILES = {
    "relay/pages/style.css": b"body{}",
    "manifest.yaml": b"name: x\n",
    "_assets/icon.svg": b"<svg/>",
    "main.py": b"print()\n",
}


def daemon_checksum(entries: dict[str, bytes]) -> str:
    """decoder/checksum.go restated: sha256 over sha256(path) || sha256(content) for the byte-sorted paths."""
    data = bytearray()
    for path in sorted(entries, key=str.encode):
        data += hashlib.sha256(path.encode()).digest()
        data += hashlib.sha256(entries[path]).digest()
    return hashlib.sha256(bytes(data)).hexdigest()


def test_entries_are_sorted_files_only_deflated_with_a_fixed_time_and_no_comment():
    archive = zipfile.ZipFile(io.BytesIO(build_archive(FILES)))
    infos = archive.infolist()
    assert [info.filename for info in infos] == [
        "_assets/icon.svg",
        "main.py",
        "manifest.yaml",
        "relay/pages/style.css",
    ]
    assert not any(info.is_dir() for info in infos)
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert archive.comment == b""
    assert {info.filename: archive.read(info) for info in infos} == FILES


def test_the_same_files_give_the_same_bytes():
    assert build_archive(FILES) == build_archive(dict(reversed(list(FILES.items()))))


@pytest.mark.parametrize("name", ["", "/abs.py", "dir/", "a\\b.py", "../escape.py", "a/../../b"])
def test_entry_names_the_daemon_would_refuse_are_rejected(name):
    with pytest.raises(ValueError, match="not a valid package entry name"):
        file_entry(name)


def test_the_checksum_is_the_daemons_algorithm_whatever_the_archive_order():
    entries = read_entries(build_archive(FILES))
    assert package_checksum(entries) == daemon_checksum(FILES)
    assert package_checksum(reversed(entries)) == daemon_checksum(FILES)


def test_the_checksum_covers_names_and_contents():
    base = package_checksum(FILES.items())
    renamed = {("main2.py" if path == "main.py" else path): content for path, content in FILES.items()}
    changed = {**FILES, "main.py": b"print(1)\n"}
    assert package_checksum(renamed.items()) != base
    assert package_checksum(changed.items()) != base


def test_a_repeated_name_counts_once_with_its_last_content_like_the_daemons_map():
    entries = [*FILES.items(), ("main.py", b"second")]
    assert package_checksum(entries) == daemon_checksum({**FILES, "main.py": b"second"})
