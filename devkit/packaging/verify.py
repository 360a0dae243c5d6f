"""Check a signed ``.difypkg`` the way the daemon does, without the daemon.

    python -m devkit.packaging.verify PACKAGE --public-key KEY.pem [--public-key ...]

prints the signing time and category, or why not. Deliberately written from the daemon's verifier alone
(pkg/plugin_packager/decoder/verifier.go and zip.go, pkg/utils/encryption/rsa.go), with nothing but ``zipfile``,
``hashlib`` and ``cryptography``, and sharing no code with ``devkit.packaging.sign``: a bug copied into both halves
would otherwise verify itself. The signed bytes are each entry's ``sha256`` in central directory order, the
verification file included, then the decimal ``time`` of the comment; any one trusted key may verify them.
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# One PEM block; the END line must name the same type. Text before BEGIN is skipped, as Go's pem.Decode does.
PEM_BLOCK = re.compile(rb"-----BEGIN ([^\r\n-]+)-----\r?\n.*?-----END \1-----[ \t\r]*(?:\n|\Z)", re.DOTALL)


class VerificationError(Exception):
    """The package is not signed by any of the keys, or the signature is malformed."""


@dataclass(frozen=True)
class Signature:
    """What a valid signature tells: when it was made and the category the verification file claims."""

    signed_at: int
    authorized_category: str | None


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """Load a public key only if the daemon's ``LoadPublicKey`` would: PKCS#1 ``RSA PUBLIC KEY``, nothing after."""
    match = PEM_BLOCK.search(pem)
    if match is None:
        raise VerificationError("no PEM block found")
    if match.group(1) != b"RSA PUBLIC KEY":
        msg = f"PEM block is {match.group(1).decode()!r}; the daemon accepts only 'RSA PUBLIC KEY' (PKCS#1)"
        raise VerificationError(msg)
    if pem[match.end() :]:
        raise VerificationError("extra data after the PEM block; the daemon refuses such a key file")
    key = serialization.load_pem_public_key(match.group(0))
    if not isinstance(key, rsa.RSAPublicKey):
        raise VerificationError("not an RSA public key")
    return key


def verify_package(package: bytes, public_keys: list[rsa.RSAPublicKey]) -> Signature:
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
    except zipfile.BadZipFile as error:
        raise VerificationError(f"not a ZIP archive: {error}") from error
    with archive:
        signature, signed_at = _read_comment(archive.comment)
        digests = b"".join(hashlib.sha256(archive.read(info)).digest() for info in archive.infolist())
        try:
            verification = json.loads(archive.read(".verification.dify.json"))
        except KeyError:
            verification = None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise VerificationError(".verification.dify.json is not JSON") from error
    category = verification.get("authorized_category") if isinstance(verification, dict) else None
    for key in public_keys:
        try:
            key.verify(signature, digests + str(signed_at).encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return Signature(signed_at=signed_at, authorized_category=category if isinstance(category, str) else None)
    raise VerificationError("the signature does not match the package contents for any of the given public keys")


def _read_comment(comment: bytes) -> tuple[bytes, int]:
    """The archive comment: JSON with a standard base64 ``signature`` string and an integer ``time``."""
    try:
        data = json.loads(comment.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VerificationError("the package is not signed (its ZIP comment is not the signature JSON)") from error
    signature = data.get("signature") if isinstance(data, dict) else None
    signed_at = data.get("time") if isinstance(data, dict) else None
    if not isinstance(signature, str) or not signature:
        raise VerificationError("the signature JSON has no 'signature' string")
    if isinstance(signed_at, bool) or not isinstance(signed_at, int):
        raise VerificationError("the signature JSON has no integer 'time'")
    try:
        return base64.b64decode(signature, validate=True), signed_at
    except binascii.Error as error:
        raise VerificationError("the signature is not standard base64") from error


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.packaging.verify", description="Verify a signed .difypkg.")
    parser.add_argument("package", type=Path)
    parser.add_argument("--public-key", type=Path, action="append", required=True, help="PKCS#1 PEM; repeatable")
    args = parser.parse_args(argv)
    try:
        keys = [load_public_key(path.read_bytes()) for path in args.public_key]
        result = verify_package(args.package.read_bytes(), keys)
    except (VerificationError, OSError) as error:
        print(f"not verified: {error}", file=sys.stderr)
        return 1
    when = datetime.datetime.fromtimestamp(result.signed_at, tz=datetime.UTC).isoformat()
    print(f"verified: signed at {when}, authorized category {result.authorized_category or '(none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
