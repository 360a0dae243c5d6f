"""``make package``: validate the plugin, then write ``dist/<name>-<version>.difypkg``, no Go CLI needed.

    python -m devkit package [--plugin-dir .] [--output-dir dist] [--sign-key KEY.private.pem]

Output contract (scripts and the release workflow rely on it): problems go to stderr, one line each, as
``error: <file>: <rule>`` or ``warning: ...``; on an error nothing is written and the exit code is 1. On success
stdout ends with ``checksum: <hex>`` (the daemon's package checksum, after ``@`` in the plugin's unique identifier)
and then the package path as the very last line: with ``--sign-key`` the signed one, whose checksum differs (the
signature adds ``.verification.dify.json``).
Packages of the manifest's name and version already in the output directory (plain or signed) are removed first:
a failed build leaves none to be uploaded by mistake, a successful one replaces them (``replaced <path>``). A
manifest that does not say its name and version removes nothing; a failed build then names every package left.
"""

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from devkit.local import ROOT
from devkit.packaging import sign
from devkit.packaging.archive import build_archive, package_checksum, read_entries
from devkit.packaging.ignore import select_files
from devkit.packaging.rules import Problem, errors
from devkit.packaging.validation import MAX_UNCOMPRESSED_BYTES, PluginFiles, upload_size_warning, validate

_TOP_LEVEL_SCALAR = r"^{key}[ \t]*:[ \t]*(['\"]?)([A-Za-z0-9._-]+)\1[ \t]*(?:#.*)?$"


@dataclass
class BuildResult:
    """What ``build`` found and made: the selected files, every problem, and the archive bytes when valid."""

    files: PluginFiles
    problems: list[Problem]
    archive: bytes | None = None
    filename: str = ""


def build(plugin_dir: Path, *, max_bytes: int = MAX_UNCOMPRESSED_BYTES, run_sdk: bool = True) -> BuildResult:
    """Select, validate and (if valid) archive the plugin in memory; nothing is written to disk."""
    files = PluginFiles(plugin_dir, select_files(plugin_dir))
    problems = validate(files, max_bytes=max_bytes, run_sdk=run_sdk)
    if errors(problems):
        return BuildResult(files, problems)
    archive = build_archive(files)
    filename = package_filename(plugin_dir)
    assert filename is not None  # the validator checked the name and the version
    return BuildResult(files, problems + upload_size_warning(len(archive)), archive, filename)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit package", description="Build a validated .difypkg.")
    parser.add_argument("--plugin-dir", type=Path, default=ROOT, help="plugin root (default: the repository)")
    parser.add_argument("--output-dir", type=Path, default=None, help="where to write it (default: <plugin-dir>/dist)")
    parser.add_argument("--sign-key", type=Path, default=None, help="also sign with this PEM private key")
    parser.add_argument(
        "--category", choices=sign.CATEGORIES, default=sign.DEFAULT_CATEGORY, help="category when signing"
    )
    parser.add_argument("--max-size-mb", type=int, default=MAX_UNCOMPRESSED_BYTES // (1024 * 1024))
    args = parser.parse_args(argv)
    plugin_dir: Path = args.plugin_dir.resolve()
    output_dir: Path = (args.output_dir or plugin_dir / "dist").resolve()

    if not plugin_dir.is_dir():
        print(f"error: {plugin_dir}: not a directory", file=sys.stderr)
        return 1
    removed, left = remove_previous_packages(plugin_dir, output_dir)
    try:
        private_key = None if args.sign_key is None else sign.load_private_key(args.sign_key.read_bytes())
    except (sign.SigningError, OSError) as error:
        print(f"error: {args.sign_key}: {error}", file=sys.stderr)
        _report_removed(removed, left)
        return 1

    result = build(plugin_dir, max_bytes=args.max_size_mb * 1024 * 1024)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if result.archive is None:
        _report_removed(removed, left)
        count = len(errors(result.problems))
        print(f"package not written: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return 1

    package_path = output_dir / result.filename
    final_path, final_bytes = package_path, result.archive
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        sign.write_atomically(package_path, result.archive)
        if private_key is not None:
            final_bytes = sign.sign_package(result.archive, private_key, category=args.category)
            final_path = sign.signed_path(package_path)
            sign.write_atomically(final_path, final_bytes)
    except (OSError, sign.SigningError) as error:
        for path in _outputs(package_path):
            path.unlink(missing_ok=True)
        _report_removed(removed, left)
        print(f"error: {final_path}: {error}", file=sys.stderr)
        print("package not written", file=sys.stderr)
        return 1

    _report_removed(removed, left, written=(package_path, final_path))
    uncompressed = sum(result.files.size(path) for path in result.files)
    print(f"{len(result.files)} files, {uncompressed} bytes uncompressed, {len(final_bytes)} bytes packaged")
    print(f"checksum: {package_checksum(read_entries(final_bytes))}")
    print(final_path)
    return 0


def remove_previous_packages(plugin_dir: Path, output_dir: Path) -> tuple[list[Path], list[Path]]:
    """Delete and return the files a build of the manifest's package writes (plain, signed, interrupted); when
    the manifest names none, return every package in ``output_dir`` as left as it was."""
    filename = package_filename(plugin_dir)
    if filename is None:
        return [], sorted(path for path in output_dir.glob("*.difypkg") if path.is_file())
    if Path(filename).name != filename or filename.startswith("."):
        return [], []  # not a plain file name: nothing of ours
    removed = [path for path in _outputs(output_dir / filename) if path.is_file()]
    for path in removed:
        path.unlink()
    return removed, []


def package_filename(plugin_dir: Path) -> str | None:
    """``<name>-<version>.difypkg``, from the manifest; ``None`` when it does not say its name and version. A
    manifest that is not valid YAML is read line by line: a mistake elsewhere in it must not hide the package name."""
    try:
        text = (plugin_dir / "manifest.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        manifest = yaml.safe_load(text)
    except yaml.YAMLError:
        lines = {key: re.search(_TOP_LEVEL_SCALAR.format(key=key), text, re.MULTILINE) for key in ("name", "version")}
        manifest = {key: match[2] for key, match in lines.items() if match}
    name, version = (manifest.get("name"), manifest.get("version")) if isinstance(manifest, dict) else (None, None)
    return f"{name}-{version}.difypkg" if isinstance(name, str) and isinstance(version, str) else None


def _outputs(package_path: Path) -> list[Path]:
    """Every file a build of ``package_path`` may write."""
    signed = sign.signed_path(package_path)
    return [package_path, signed, *(path.with_name(path.name + ".tmp") for path in (package_path, signed))]


def _report_removed(removed: list[Path], left: list[Path], written: tuple[Path, ...] = ()) -> None:
    for path in removed:
        if path in written:
            print(f"replaced {path}")
        else:
            print(f"removed {path}: built from earlier sources, it must not be uploaded", file=sys.stderr)
    for path in left:
        print(
            f"warning: {path}: left as it was (manifest.yaml names no package, so none could be told to be of this"
            " version); it was not built from these sources, do not upload it",
            file=sys.stderr,
        )
