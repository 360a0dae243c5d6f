"""``make package`` with a manifest that is not valid YAML: the previous package of the version still goes, and
what cannot be told apart is named, never left silently in ``dist/`` to be uploaded by mistake."""

from devkit.packaging.package import package_filename

from .conftest import PACKAGE_STEM, run_devkit

BROKEN = "description:\n  en_US: [unclosed\n"
"""A mistake the YAML parser stops at, below the manifest's ``name`` and ``version`` lines."""


def test_a_manifest_that_is_not_yaml_still_names_its_package_and_a_failed_build_removes_it(plugin_dir, tmp_path):
    manifest = plugin_dir / "manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
    previous = [tmp_path / f"{PACKAGE_STEM}.difypkg", tmp_path / f"{PACKAGE_STEM}.signed.difypkg"]
    other_version = tmp_path / f"{PACKAGE_STEM}-older.difypkg"
    for path in (*previous, other_version):
        path.write_bytes(b"built from earlier sources")

    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", tmp_path)

    assert result.returncode == 1
    assert "error: manifest.yaml" in result.stderr
    assert not [path for path in previous if path.exists()]
    for path in previous:
        assert f"removed {path}: built from earlier sources, it must not be uploaded" in result.stderr
    assert other_version.exists() and "warning" not in result.stderr  # another version: another package


def test_a_manifest_that_names_no_package_leaves_every_package_named_in_a_warning(plugin_dir, tmp_path):
    (plugin_dir / "manifest.yaml").write_text("name: [unclosed\nversion: {also: broken\n", encoding="utf-8")
    assert package_filename(plugin_dir) is None
    left = [tmp_path / f"{PACKAGE_STEM}.difypkg", tmp_path / "someone_else-9.9.9.signed.difypkg"]
    for path in left:
        path.write_bytes(b"built from earlier sources")
    (tmp_path / "notes.txt").write_text("not a package", encoding="utf-8")

    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", tmp_path)

    assert result.returncode == 1
    assert all(path.exists() for path in left)  # nothing can be told to be of this version: nothing removed
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ") and "left as" in line]
    assert warnings == [
        f"warning: {path}: left as it was (manifest.yaml names no package, so none could be told to be of this"
        " version); it was not built from these sources, do not upload it"
        for path in sorted(left)
    ]
    assert "notes.txt" not in result.stderr


def test_the_name_and_version_lines_are_read_as_yaml_writes_them(tmp_path):
    (tmp_path / "manifest.yaml").write_text(
        "version: '1.2.3'  # quoted, with a comment\nname: \"my_plugin\"\nmeta:\n  name: nested\n  version: 0.0.1\n"
        "label: [broken\n",
        encoding="utf-8",
    )
    assert package_filename(tmp_path) == "my_plugin-1.2.3.difypkg"
