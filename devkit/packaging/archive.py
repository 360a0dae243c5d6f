"""The ``.difypkg`` container: a plain ZIP, written the way the daemon reads it, and its checksum.

What the daemon needs from the archive (pkg/plugin_packager/decoder/zip.go):

* file entries only. Its ``Walk`` splits every entry name into directory and file name and reads each one back;
  a directory entry (``relay/``) has an empty file name, the read fails and the install stops with "package decode
  failed". So we never write directory entries: the extractor creates directories from the file paths.
* ``/`` separators and ``manifest.yaml`` at the root (``ReadFile("manifest.yaml")``).
* the archive comment is reserved for the signature (see ``devkit.packaging.sign``); an unsigned package has none.

The bytes are reproducible (entries sorted by path, the ZIP epoch 1980-01-01 as every timestamp, fixed
permissions): the same tree gives the same file, so a release can be rebuilt and compared.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Regular file, rw-r--r--, in the high 16 bits the way Unix zip tools store it.
REGULAR_FILE_ATTRIBUTES = (0o100644 & 0xFFFF) << 16


def sort_key(path: str) -> bytes:
    """Byte order of the UTF-8 path: Go's ``slices.Sort`` on strings, which the daemon's checksum uses."""
    return path.encode("utf-8")


def build_archive(files: Mapping[str, bytes]) -> bytes:
    """A ZIP holding ``files`` (``/``-separated path -> content) in sorted order."""
    return write_entries((path, files[path]) for path in sorted(files, key=sort_key))


def write_entries(entries: Iterable[tuple[str, bytes]], comment: bytes = b"") -> bytes:
    """A deflated ZIP holding ``entries`` in the order given (the signer must keep the order it hashed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in entries:
            archive.writestr(file_entry(path), content)
        archive.comment = comment
    return buffer.getvalue()


def file_entry(path: str) -> zipfile.ZipInfo:
    """The header of one file entry: fixed time, fixed mode, deflated, created on "Unix" (so modes are read)."""
    if not path or path.startswith("/") or path.endswith("/") or "\\" in path or ".." in path.split("/"):
        msg = f"not a valid package entry name: {path!r}"
        raise ValueError(msg)
    info = zipfile.ZipInfo(path, date_time=FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = REGULAR_FILE_ATTRIBUTES
    return info


def read_entries(package: bytes) -> list[tuple[str, bytes]]:
    """Every entry of a package as (name, content), in central-directory order: the daemon's walk order."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def package_checksum(entries: Iterable[tuple[str, bytes]]) -> str:
    """The daemon's package checksum (decoder/checksum.go, ``CalculateChecksum``), the part after ``@`` in the
    plugin's unique identifier ``author/name:version@checksum``.

    For each path in byte-sorted order, append ``sha256(path) || sha256(content)`` (raw 32-byte digests); the
    checksum is the hex ``sha256`` of that concatenation. The daemon keys its table by path, so when a name
    appears twice the last entry read wins; so does the dict here.
    """
    digests = {path: hashlib.sha256(content).digest() for path, content in entries}
    joined = b"".join(hashlib.sha256(sort_key(path)).digest() + digests[path] for path in sorted(digests, key=sort_key))
    return hashlib.sha256(joined).hexdigest()
