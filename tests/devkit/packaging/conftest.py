"""Fixtures for the packaging tests: a disposable copy of the plugin, the devkit commands, a fast key pair.

Every rule test breaks one thing in its own copy of the plugin (never in the repository), so the tests can run
in parallel with anyone editing the real files and can never leave a broken manifest behind. Names of files come
from the plugin's manifest and endpoint group (``tests.declarations``), never from a list written here.
"""

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DemoApps
from devkit.packaging.ignore import select_files

ROOT = Path(__file__).resolve().parents[3]
_MANIFEST = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
PACKAGE_STEM = f"{_MANIFEST['name']}-{_MANIFEST['version']}"
"""What ``make package`` names this plugin's package, from its own manifest: ``<name>-<version>``."""


@cache
def plugin_files() -> tuple[str, ...]:
    """The files a copy of the plugin is made of: those its package holds, and its ``.difyignore``."""
    return (*select_files(ROOT), ".difyignore")


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A fresh copy of the plugin, free to break."""
    target = tmp_path / "plugin"
    for relative in plugin_files():
        if (ROOT / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / relative, target / relative)
    return target


def edit_yaml(path: Path, change: Callable[[Any], Any]) -> None:
    """Load ``path``, let ``change`` mutate the data (or return a replacement), write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    replaced = change(data)
    path.write_text(yaml.safe_dump(data if replaced is None else replaced, allow_unicode=True), encoding="utf-8")


def run_devkit(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m devkit ARGS`` as ``make`` runs it, from the repository (where ``devkit`` is importable)."""
    return subprocess.run(
        [sys.executable, "-m", "devkit", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The repository packaged once through the real command, into a temporary output directory."""
    output_dir = tmp_path_factory.mktemp("dist")
    result = run_devkit("package", "--output-dir", output_dir)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1]), result


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2048-bit PKCS#1 key pair (keygen's 4096 bits are tested once; signing tests only need a valid key)."""
    directory = tmp_path_factory.mktemp("keys")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path = directory / "test.private.pem"
    public_path = directory / "test.public.pem"
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1))
    return private_path, public_path


def unpack_like_the_daemon(package: Path, target: Path) -> None:
    """The daemon's ``ExtractTo``: every entry is a file; its directories are created from its path."""
    with zipfile.ZipFile(package) as archive:
        for info in archive.infolist():
            destination = (target / info.filename).resolve()
            assert destination.is_relative_to(target.resolve()), info.filename
            assert not info.is_dir(), f"directory entry {info.filename} would fail the daemon's decoder"
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.read(info))


@pytest.fixture(scope="session")
def unpacked(built_package, tmp_path_factory) -> Path:
    path, _ = built_package
    target = tmp_path_factory.mktemp("installed") / "plugin"
    unpack_like_the_daemon(path, target)
    return target


@pytest.fixture(scope="session")
def installed_plugin(unpacked) -> Iterator[PluginProcess]:
    """The plugin started from the unpacked package, its app calls answered by the demo apps."""
    process = PluginProcess(unpacked, DemoApps(token_delay=0, completion_fixed=True))  # each app type, served
    process.start()
    yield process
    process.stop()
