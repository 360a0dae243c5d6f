"""``keygen`` and ``sign``: sign a ``.difypkg`` with your own RSA key, for self-hosted Dify servers that verify
third-party signatures, byte for byte as the daemon does (pkg/plugin_packager/signer/withkey/sign_with_key.go,
verified by pkg/plugin_packager/decoder/verifier.go). Signed: each entry's raw 32-byte ``sha256(content)`` in
archive order (the decoder's ``Walk`` follows the central directory; the new archive keeps it), then that of an
appended ``.verification.dify.json`` = ``{"authorized_category":"<category>"}`` (Go's compact ``json.Marshal``),
then the signing time in decimal Unix seconds (ASCII); with RSA PKCS#1 v1.5 over SHA-256 (``RSASign`` in
pkg/utils/encryption/rsa.go). The ZIP archive comment is ``{"signature":"<standard base64>","time":<seconds>}``.

Keys are PEM, PKCS#1 both ways (``RSA PRIVATE KEY`` / ``RSA PUBLIC KEY``): the daemon's ``LoadPublicKey`` refuses
the common PKIX ``PUBLIC KEY`` block and any bytes after the block. ``keygen`` writes 4096-bit keys like the Go CLI,
the private one readable by its owner only. The category defaults to ``community``: the Go CLI's ``langgenius``
shows the plugin as official, more than your own key vouches for (and a package without the verification file
counts as ``langgenius``).
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from devkit.packaging.archive import read_entries, write_entries
from devkit.packaging.rules import VERIFICATION_FILE

CATEGORIES = ("langgenius", "partner", "community")  # pkg/plugin_packager/decoder/entities.go
DEFAULT_CATEGORY = "community"
DEFAULT_KEY_NAME = "dify_plugin_signing_key"  # the Go CLI's default --filename
KEY_BITS = 4096


class SigningError(Exception):
    """The package or the key cannot be used for signing; the message says which and why."""


def write_key_pair(output_dir: Path, name: str, *, bits: int = KEY_BITS, force: bool = False) -> tuple[Path, Path]:
    """Write a new ``<name>.private.pem`` (mode 0600) and ``<name>.public.pem`` (0644), both PKCS#1."""
    paths = (output_dir / f"{name}.private.pem", output_dir / f"{name}.public.pem")
    if existing := [path for path in paths if path.exists() and not force]:
        raise SigningError(f"{existing[0]} exists; pass --force to replace the key pair")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.PKCS1)
    output_dir.mkdir(parents=True, exist_ok=True)
    for path, content, mode in zip(paths, (private_pem, public_pem), (0o600, 0o644), strict=True):
        # Created with its mode from the first byte: no moment when the private key is world-readable.
        path.unlink(missing_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as file:
            file.write(content)
        os.chmod(path, mode)  # the umask may have removed bits we asked for
    return paths


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """An unencrypted RSA private key in PEM (PKCS#1 as keygen writes it, or PKCS#8)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise SigningError(f"not an unencrypted PEM private key: {error}") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningError("the daemon verifies RSA signatures only; this key is not RSA")
    return key


def sign_package(
    package: bytes, private_key: rsa.RSAPrivateKey, *, category: str = DEFAULT_CATEGORY, now: int | None = None
) -> bytes:
    """The signed package: same entries in the same order, the verification file last, the signature comment."""
    if category not in CATEGORIES:
        raise SigningError(f"category must be one of {', '.join(CATEGORIES)}, got {category!r}")
    try:
        entries = read_entries(package)
    except Exception as error:
        raise SigningError(f"not a readable .difypkg (ZIP): {error}") from error
    names = [name for name, _ in entries]
    if "manifest.yaml" not in names:
        raise SigningError("manifest.yaml is not at the root of the package")
    if any(name.endswith("/") for name in names):
        msg = "the package has directory entries, which the daemon cannot decode; rebuild it with make package"
        raise SigningError(msg)
    # Re-signing replaces the previous verification file instead of adding a second one.
    entries = [(name, content) for name, content in entries if name != VERIFICATION_FILE]
    entries.append((VERIFICATION_FILE, json.dumps({"authorized_category": category}, separators=(",", ":")).encode()))

    signed_at = int(time.time()) if now is None else now
    signed_data = b"".join(hashlib.sha256(content).digest() for _, content in entries) + str(signed_at).encode()
    signature = base64.b64encode(private_key.sign(signed_data, padding.PKCS1v15(), hashes.SHA256())).decode()
    comment = json.dumps({"signature": signature, "time": signed_at}, separators=(",", ":"))
    return write_entries(entries, comment=comment.encode())


def signed_path(package_path: Path) -> Path:
    """``x.difypkg`` -> ``x.signed.difypkg``, the name ``dify signature sign`` gives its output."""
    return package_path.with_name(f"{package_path.stem}.signed{package_path.suffix}")


def write_atomically(path: Path, content: bytes) -> None:
    """Never leave a half-written package under its final name."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    temporary.replace(path)


def keygen_main(argv: list[str]) -> int:
    """``python -m devkit keygen [--output-dir DIR] [--name NAME]``: prints the private and public key paths."""
    parser = argparse.ArgumentParser(prog="python -m devkit keygen", description="Create an RSA key pair for signing.")
    parser.add_argument("--output-dir", type=Path, default=Path(), help="where to write the key files (default .)")
    parser.add_argument("--name", default=DEFAULT_KEY_NAME, help=f"file name prefix (default {DEFAULT_KEY_NAME})")
    parser.add_argument("--bits", type=int, default=KEY_BITS, help=f"RSA key size (default {KEY_BITS})")
    parser.add_argument("--force", action="store_true", help="replace an existing key pair of that name")
    args = parser.parse_args(argv)
    if args.bits < 2048:
        parser.error("--bits must be at least 2048")
    try:
        private_path, public_path = write_key_pair(args.output_dir, args.name, bits=args.bits, force=args.force)
    except (SigningError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"private key (keep it secret, never commit it): {private_path}")
    print(f"public key (give it to the Dify admin): {public_path}")
    return 0


def sign_main(argv: list[str]) -> int:
    """``python -m devkit sign PACKAGE -p KEY [-c CATEGORY] [--in-place]``: the last line is the signed package,
    ``PACKAGE.signed.difypkg`` beside the input (the Go CLI's ``dify signature sign`` naming) or PACKAGE itself."""
    parser = argparse.ArgumentParser(prog="python -m devkit sign", description="Sign a .difypkg with an RSA key.")
    parser.add_argument("package", type=Path, help="the .difypkg to sign")
    parser.add_argument("-p", "--private-key", type=Path, required=True, help="PEM private key (from keygen)")
    parser.add_argument(
        "-c", "--category", choices=CATEGORIES, default=DEFAULT_CATEGORY, help="authorized category recorded"
    )
    parser.add_argument("--in-place", action="store_true", help="replace PACKAGE instead of writing .signed.difypkg")
    args = parser.parse_args(argv)
    output = args.package if args.in_place else signed_path(args.package)
    try:
        private_key = load_private_key(args.private_key.read_bytes())
        write_atomically(output, sign_package(args.package.read_bytes(), private_key, category=args.category))
    except (SigningError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(output)
    return 0
