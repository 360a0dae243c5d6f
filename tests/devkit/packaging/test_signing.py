"""``keygen`` and ``sign``: the daemon's third-party signature, checked by a verifier that shares no code with them.

``devkit.packaging.verify`` re-reads the archive and recomputes everything from the daemon's rules; one test below also
restates the signed bytes inline, and one checks signer and verifier against a known-answer vector made with openssl.
"""

import base64
import hashlib
import io
import json
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devkit.packaging.archive import read_entries as entries_of
from devkit.packaging.archive import write_entries
from devkit.packaging.sign import VERIFICATION_FILE, load_private_key, sign_package
from devkit.packaging.verify import Signature, VerificationError, load_public_key, verify_package
from tests import declarations

from .conftest import PACKAGE_STEM, run_devkit

KNOWN_ANSWER = Path(__file__).with_name("data") / "signature_known_answer.json"


@pytest.fixture(scope="module")
def package(built_package) -> bytes:
    path, _ = built_package
    return path.read_bytes()


@pytest.fixture
def signed(package, key_pair, tmp_path) -> Path:
    """The repository's package signed through the command line, next to its unsigned original."""
    unsigned = tmp_path / f"{PACKAGE_STEM}.difypkg"
    unsigned.write_bytes(package)
    result = run_devkit("sign", unsigned, "--private-key", key_pair[0])
    assert result.returncode == 0, result.stderr
    output = Path(result.stdout.strip().splitlines()[-1])
    assert output == tmp_path / f"{PACKAGE_STEM}.signed.difypkg"
    assert unsigned.read_bytes() == package
    return output


@pytest.fixture(scope="module")
def public_key(key_pair) -> rsa.RSAPublicKey:
    return load_public_key(key_pair[1].read_bytes())


def entries(package: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def rewrite(package: bytes, change_entry: str | None = None, comment: bytes | None = None) -> bytes:
    """The same archive with one byte of one entry flipped and/or another comment."""
    source = zipfile.ZipFile(io.BytesIO(package))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == change_entry:
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
            target.writestr(info, data)
        target.comment = source.comment if comment is None else comment
    return buffer.getvalue()


# --- keygen ---------------------------------------------------------------------------------------------------


def test_keygen_writes_a_pkcs1_pair_the_daemon_loads_with_a_private_file_only_its_owner_reads(tmp_path):
    result = run_devkit("keygen", "--output-dir", tmp_path / "keys", "--name", "relay")
    assert result.returncode == 0, result.stderr
    private_path = tmp_path / "keys" / "relay.private.pem"
    public_path = tmp_path / "keys" / "relay.public.pem"
    assert result.stdout.splitlines() == [
        f"private key (keep it secret, never commit it): {private_path}",
        f"public key (give it to the Dify admin): {public_path}",
    ]
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    private_pem, public_pem = private_path.read_bytes(), public_path.read_bytes()
    assert private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert private_pem.endswith(b"-----END RSA PRIVATE KEY-----\n")
    assert public_pem.startswith(b"-----BEGIN RSA PUBLIC KEY-----\n")
    private_key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 4096
    assert load_public_key(public_pem).public_numbers() == private_key.public_key().public_numbers()

    again = run_devkit("keygen", "--output-dir", tmp_path / "keys", "--name", "relay")
    assert again.returncode == 1
    assert "exists; pass --force to replace the key pair" in again.stderr
    assert private_path.read_bytes() == private_pem


def test_the_daemon_accepts_only_a_pkcs1_public_key_block_with_nothing_after_it(key_pair):
    pem = key_pair[1].read_bytes()
    key = load_public_key(pem)
    pkix = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(VerificationError, match="accepts only 'RSA PUBLIC KEY'"):
        load_public_key(pkix)
    with pytest.raises(VerificationError, match="extra data after the PEM block"):
        load_public_key(pem + b"\n")
    assert load_public_key(b"comment before the block is skipped\n" + pem).public_numbers() == key.public_numbers()


# --- sign -----------------------------------------------------------------------------------------------------


def test_the_signed_package_keeps_every_entry_in_order_and_appends_the_verification_file(package, signed):
    original = entries(package)
    signed_entries = entries(signed.read_bytes())
    assert signed_entries[:-1] == original
    assert signed_entries[-1] == (".verification.dify.json", b'{"authorized_category":"community"}')


def test_the_comment_is_the_daemons_signature_json(signed):
    comment = zipfile.ZipFile(signed).comment
    assert comment.startswith(b'{"signature":"') and b'","time":' in comment and b" " not in comment
    data = json.loads(comment)
    assert list(data) == ["signature", "time"]
    assert isinstance(data["time"], int) and abs(data["time"] - time.time()) < 120
    assert len(base64.b64decode(data["signature"], validate=True)) == 2048 // 8


def test_the_signature_covers_each_entrys_sha256_in_archive_order_then_the_decimal_time(signed, public_key):
    # The daemon's verifier.go, restated inline: no code shared with devkit.packaging.sign or devkit.packaging.verify.
    package = signed.read_bytes()
    comment = json.loads(zipfile.ZipFile(io.BytesIO(package)).comment)
    data = b"".join(hashlib.sha256(content).digest() for _, content in entries(package))
    data += str(comment["time"]).encode()
    signature = base64.b64decode(comment["signature"])
    public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())  # raises if it does not match


def test_the_independent_verifier_accepts_it_with_the_right_key_only(signed, public_key):
    package = signed.read_bytes()
    result = verify_package(package, [public_key])
    assert result.authorized_category == "community"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    assert verify_package(package, [other, public_key]) == result  # any trusted key will do, as in the daemon
    with pytest.raises(VerificationError, match="does not match"):
        verify_package(package, [other])


@pytest.mark.parametrize(
    "entry",
    ["main.py", declarations.routes()[0].source, f"_assets/{declarations.manifest()['icon']}", VERIFICATION_FILE],
)
def test_changing_one_byte_of_one_entry_breaks_the_signature(signed, public_key, entry):
    tampered = rewrite(signed.read_bytes(), change_entry=entry)
    assert entries(tampered) != entries(signed.read_bytes())
    with pytest.raises(VerificationError, match="does not match"):
        verify_package(tampered, [public_key])


def test_changing_the_time_breaks_the_signature(signed, public_key):
    package = signed.read_bytes()
    comment = json.loads(zipfile.ZipFile(io.BytesIO(package)).comment)
    later = json.dumps({**comment, "time": comment["time"] + 1}, separators=(",", ":")).encode()
    with pytest.raises(VerificationError, match="does not match"):
        verify_package(rewrite(package, comment=later), [public_key])


def test_an_unsigned_package_is_not_verified(package, public_key):
    with pytest.raises(VerificationError, match="not signed"):
        verify_package(package, [public_key])


def test_signing_again_replaces_the_verification_file_and_in_place_overwrites(signed, key_pair, public_key):
    result = run_devkit("sign", signed, "-p", key_pair[0], "--category", "partner", "--in-place")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(signed)
    names = [name for name, _ in entries(signed.read_bytes())]
    assert names.count(".verification.dify.json") == 1
    assert verify_package(signed.read_bytes(), [public_key]).authorized_category == "partner"


def test_sign_refuses_what_the_daemon_could_not_decode(tmp_path, key_pair):
    not_a_plugin = tmp_path / "x.difypkg"
    with zipfile.ZipFile(not_a_plugin, "w") as archive:
        archive.writestr("main.py", "")
    result = run_devkit("sign", not_a_plugin, "-p", key_pair[0])
    assert result.returncode == 1
    assert result.stderr == "error: manifest.yaml is not at the root of the package\n"
    assert not (tmp_path / "x.signed.difypkg").exists()


def test_the_verify_command(signed, key_pair, package, tmp_path):
    def verify(path: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "devkit.packaging.verify", str(path), "--public-key", str(key_pair[1])]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    verified = verify(signed)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("verified: signed at ")
    assert verified.stdout.rstrip().endswith("authorized category community")
    unsigned = tmp_path / "plain.difypkg"
    unsigned.write_bytes(package)
    refused = verify(unsigned)
    assert refused.returncode == 1
    assert refused.stderr.startswith("not verified: the package is not signed")


def test_a_signature_made_by_another_implementation_is_accepted_and_reproduced():
    # A known-answer vector computed once with openssl (see its "about"): the verifier must accept a package signed
    # elsewhere, with no verification file (the daemon then reads no category), and signing the same entries at
    # the same time with the same key must give the very same bytes, PKCS#1 v1.5 being deterministic.
    vector = json.loads(KNOWN_ANSWER.read_text(encoding="utf-8"))
    public_key = load_public_key(vector["public_key_pem"].encode())
    entries = [(name, text.encode()) for name, text in vector["entries"]]
    comment = json.dumps({"signature": vector["unverified_signature"], "time": vector["time"]}, separators=(",", ":"))
    foreign = write_entries(entries, comment=comment.encode())
    assert verify_package(foreign, [public_key]) == Signature(signed_at=vector["time"], authorized_category=None)
    with pytest.raises(VerificationError, match="does not match"):
        verify_package(rewrite(foreign, change_entry="main.py"), [public_key])

    private_key = load_private_key(vector["private_key_pem"].encode())
    ours = sign_package(write_entries(entries), private_key, now=vector["time"])
    assert entries_of(ours)[-1] == (".verification.dify.json", vector["verification_file"].encode())
    assert json.loads(zipfile.ZipFile(io.BytesIO(ours)).comment) == {
        "signature": vector["community_signature"],
        "time": vector["time"],
    }
    assert verify_package(ours, [public_key]).authorized_category == "community"
