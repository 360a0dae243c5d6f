"""The ``.difypkg`` container: a plain ZIP, written the way the daemon reads it (pkg/plugin_packager/decoder/zip.go),
and its checksum. File entries only: ``Walk`` reads each entry back by directory and file name, and a directory
entry (``relay/``) has an empty one, so the install stops with "package decode failed" (extraction creates the
directories). ``/`` separators, ``manifest.yaml`` at the root (``ReadFile("manifest.yaml")``). The archive comment
is the signature's (``devkit.packaging.sign``): an unsigned package has none. Reproducible (entries sorted by path,
every timestamp the ZIP epoch 1980-01-01, fixed permissions): a release can be rebuilt and compared.
"""

import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping


def sort_key(path: str) -> bytes:
    """Byte order of the UTF-8 path: Go's ``slices.Sort`` on strings, which the daemon's checksum uses."""
    return path.encode("utf-8")


def build_archive(files: Mapping[str, bytes]) -> bytes:
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
        raise ValueError(f"not a valid package entry name: {path!r}")
    info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))  # the ZIP epoch
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = (0o100644 & 0xFFFF) << 16  # regular file, rw-r--r--, high 16 bits as Unix zip tools store it
    return info


def read_entries(package: bytes) -> list[tuple[str, bytes]]:
    """Every entry of a package as (name, content), in central-directory order: the daemon's walk order."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def package_checksum(entries: Iterable[tuple[str, bytes]]) -> str:
    """The daemon's package checksum (decoder/checksum.go, ``CalculateChecksum``), after ``@`` in the plugin's unique
    identifier ``author/name:version@checksum``: hex ``sha256`` of ``sha256(path) || sha256(content)`` (raw digests)
    per path in byte order. Keyed by path like the daemon's table: a repeated name counts with its last content."""
    digests = {path: hashlib.sha256(content).digest() for path, content in entries}
    joined = b"".join(hashlib.sha256(sort_key(path)).digest() + digests[path] for path in sorted(digests, key=sort_key))
    return hashlib.sha256(joined).hexdigest()
