"""``python -m devkit package`` on the real repository: its output contract and what the package holds."""

import ast
import hashlib
import re
import zipfile

import yaml

from devkit.packaging.verify import load_public_key, verify_package
from tests import declarations

from .conftest import PACKAGE_STEM, ROOT, run_devkit


def local_packages() -> set[str]:
    """The plugin's own packages that ``main.py`` and the endpoint sources import (``relay``, for this plugin)."""
    sources = ["main.py", *(route.source for route in declarations.routes())]
    found = set()
    for source in sources:
        for node in ast.walk(ast.parse((ROOT / source).read_bytes())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
            found |= {name.split(".")[0] for name in names if (ROOT / name.split(".")[0] / "__init__.py").is_file()}
    return found


def runtime_files() -> set[str]:
    """What the server needs, listed from the repository itself rather than from the ignore file."""
    wanted = {"manifest.yaml", "main.py", "requirements.txt", "README.md", "PRIVACY.md"}
    if (ROOT / ".env.example").is_file():
        wanted.add(".env.example")
    # The README's translations ship too, as the Dify Marketplace shows them (readme/README_<language>.md).
    wanted |= {path.relative_to(ROOT).as_posix() for path in (ROOT / "readme").glob("README_*.md")}
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    wanted |= {f"_assets/{manifest['icon']}", f"_assets/{manifest['icon_dark']}"}
    for group_path in manifest["plugins"]["endpoints"]:
        wanted.add(group_path)
        for endpoint_path in yaml.safe_load((ROOT / group_path).read_text(encoding="utf-8"))["endpoints"]:
            wanted.add(endpoint_path)
            wanted.add(yaml.safe_load((ROOT / endpoint_path).read_text(encoding="utf-8"))["extra"]["python"]["source"])
    for folder in ("_assets", "endpoints", "group", *local_packages()):
        wanted |= {
            path.relative_to(ROOT).as_posix()
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        }
    return wanted


def test_the_last_line_is_the_package_and_the_one_before_is_the_daemons_checksum(built_package):
    path, result = built_package
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    assert path.name == f"{manifest['name']}-{manifest['version']}.difypkg"
    assert path.is_file()
    assert result.stderr == ""
    *_, summary, checksum_line, last = result.stdout.strip().splitlines()
    assert last == str(path)
    assert re.fullmatch(r"\d+ files, \d+ bytes uncompressed, \d+ bytes packaged", summary)

    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    data = b"".join(
        hashlib.sha256(name.encode()).digest() + hashlib.sha256(contents[name]).digest()
        for name in sorted(contents, key=str.encode)
    )
    assert checksum_line == f"checksum: {hashlib.sha256(data).hexdigest()}"


def test_the_package_holds_exactly_the_runtime_files_and_no_directory_entries(built_package):
    path, _ = built_package
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist()]
        assert not any(info.is_dir() for info in archive.infolist())
        assert archive.comment == b""
    assert names == sorted(names, key=str.encode)
    assert "manifest.yaml" in names  # at the root
    assert set(names) == runtime_files()
    assert not [name for name in names if "\\" in name or name.startswith("/")]


def test_nothing_for_development_slipped_in(built_package):
    path, _ = built_package
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    forbidden = re.compile(
        r"^(tests|devkit|\.git|\.github|\.ci|\.venv|dist|test-output|\.pytest_cache|\.ruff_cache)/"
        r"|__pycache__|\.pyc$|\.pem$|^\.env$|^pyproject\.toml$|^Makefile$|^requirements-(test|tools)\.txt$|\.difypkg$"
    )
    assert [name for name in names if forbidden.search(name)] == []


def test_building_twice_gives_identical_bytes(built_package, tmp_path):
    path, _ = built_package
    again = run_devkit("package", "--output-dir", tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_the_default_output_is_dist_inside_the_plugin_dir(plugin_dir):
    result = run_devkit("package", "--plugin-dir", plugin_dir)
    assert result.returncode == 0, result.stderr
    package = plugin_dir / "dist" / f"{PACKAGE_STEM}.difypkg"
    assert result.stdout.strip().splitlines()[-1] == str(package)
    assert package.is_file()


def test_sign_key_signs_right_away_and_reports_the_signed_package(plugin_dir, key_pair, tmp_path):
    private_key, public_key = key_pair
    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", tmp_path, "--sign-key", private_key)
    assert result.returncode == 0, result.stderr
    signed = tmp_path / f"{PACKAGE_STEM}.signed.difypkg"
    assert result.stdout.strip().splitlines()[-1] == str(signed)
    assert (tmp_path / f"{PACKAGE_STEM}.difypkg").is_file()
    assert verify_package(signed.read_bytes(), [load_public_key(public_key.read_bytes())]).authorized_category == (
        "community"
    )


def test_a_bad_sign_key_is_refused_before_anything_is_built(plugin_dir, tmp_path):
    key = tmp_path / "broken.pem"
    key.write_text("not a key", encoding="utf-8")
    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", tmp_path / "out", "--sign-key", key)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {key}: not an unencrypted PEM private key")
    assert not (tmp_path / "out").exists()


def test_a_failed_build_leaves_no_package_of_that_version_behind(plugin_dir, tmp_path):
    previous = [tmp_path / f"{PACKAGE_STEM}.difypkg", tmp_path / f"{PACKAGE_STEM}.signed.difypkg"]
    other_version = tmp_path / f"{PACKAGE_STEM}-older.difypkg"
    for path in (*previous, other_version):
        path.write_bytes(b"built from earlier sources")
    (plugin_dir / "main.py").write_text("def broken(:\n", encoding="utf-8")

    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", tmp_path)

    assert result.returncode == 1
    assert not [path for path in previous if path.exists()]
    assert other_version.exists()  # another version is another package
    for path in previous:
        assert f"removed {path}: built from earlier sources, it must not be uploaded" in result.stderr
    assert result.stderr.strip().endswith("package not written: 1 error")


def test_a_refused_sign_key_leaves_no_package_of_that_version_either(plugin_dir, tmp_path):
    previous = tmp_path / f"{PACKAGE_STEM}.difypkg"
    previous.write_bytes(b"built from earlier sources")
    key = tmp_path / "broken.pem"
    key.write_text("not a key", encoding="utf-8")
    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", tmp_path, "--sign-key", key)
    assert result.returncode == 1
    assert not previous.exists()


def test_a_build_replaces_the_previous_package_of_its_version(plugin_dir, tmp_path):
    previous = tmp_path / f"{PACKAGE_STEM}.difypkg"
    previous.write_bytes(b"built from earlier sources")
    stale_signed = tmp_path / f"{PACKAGE_STEM}.signed.difypkg"
    stale_signed.write_bytes(b"signed from earlier sources")

    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"replaced {previous}" in result.stdout.splitlines()
    assert result.stdout.strip().splitlines()[-1] == str(previous)
    assert zipfile.is_zipfile(previous)
    assert not stale_signed.exists()  # not signed this time: the old signature belongs to other sources
    assert f"removed {stale_signed}" in result.stderr
