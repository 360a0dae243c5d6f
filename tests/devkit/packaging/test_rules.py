"""Every validation rule of ``make package``, each shown failing on a copy of the plugin broken in one place.

A case names what it breaks, the file the error must name and a fragment of the rule's message. Static rules
run without the SDK probe (fast); the cases marked ``sdk`` need the SDK to load the staged plugin.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devkit.packaging.package import build
from devkit.packaging.rules import errors
from devkit.packaging.validation import upload_size_warning
from tests import declarations

from .conftest import edit_yaml, run_devkit

GROUP = declarations.group_files()[0]
FIRST = declarations.routes()[0]
"""The plugin's first declared endpoint: the endpoint rules are shown failing on it."""
ENDPOINT, SOURCE = FIRST.file, FIRST.source
SHARING = {route.file for route in declarations.routes() if route.source == SOURCE} - {ENDPOINT}
"""Other endpoint files with the same Python source: a break in the source fails them too."""
SETTINGS = len(declarations.settings())
"""How many settings the plugin declares: a setting added by a test comes at this index."""
SOURCE_MODULE = SOURCE.removesuffix(".py").replace("/", ".")
[SOURCE_CLASS] = declarations.endpoint_classes(SOURCE)


def manifest(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    return lambda root: edit_yaml(root / "manifest.yaml", change)


def group(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    return lambda root: edit_yaml(root / GROUP, change)


def endpoint(relative: str, change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    return lambda root: edit_yaml(root / relative, change)


def declare(relative: str, path: str, method: str, source: str) -> Callable[[Path], None]:
    """Add an endpoint file to the plugin and list it in the group, as the README says to add an endpoint."""
    text = f'path: "{path}"\nmethod: "{method}"\nextra:\n  python:\n    source: "{source}"\n'
    return both(write(relative, text), group(lambda g: g["endpoints"].append(relative)))


def delete(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


def write(relative: str, text: str, *, append: bool = False) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a" if append else "w", encoding="utf-8") as file:
            file.write(text)

    return change


def ignore(pattern: str) -> Callable[[Path], None]:
    return write(".difyignore", f"\n{pattern}\n", append=True)


def unignore(pattern: str) -> Callable[[Path], None]:
    """Remove a line from the copy's .difyignore (to show what it protects against)."""

    def change(root: Path) -> None:
        lines = (root / ".difyignore").read_text(encoding="utf-8").splitlines()
        (root / ".difyignore").write_text("\n".join(line for line in lines if line != pattern), encoding="utf-8")

    return change


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda root: [change(root) for change in changes] and None


def set_key(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a dotted key (``meta.runner.version``) in a YAML mapping."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data.setdefault(key, {})
        data[last] = value

    return change


def drop_key(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        del data[last]

    return change


def setting(name: str = "added", **fields: Any) -> dict[str, Any]:
    """A valid setting, then ``fields`` over it (``None`` removes a field)."""
    merged = {"name": name, "type": "text-input", "required": False, "label": {"en_US": "Added"}, **fields}
    return {key: value for key, value in merged.items() if value is not None}


def add_setting(**fields: Any) -> Callable[[Path], None]:
    """Add one setting after the plugin's own (at index ``SETTINGS``), as the README says to add a setting."""
    return group(lambda g: g.setdefault("settings", []).append(setting(**fields)))


SECOND = """
from dify_plugin import Endpoint


class SecondEndpoint(Endpoint):
    def _invoke(self, r, values, settings):
        return None
"""


@dataclass
class Case:
    id: str
    breaks: Callable[[Path], None]
    file: str
    fragment: str
    sdk: bool = False
    # Other files the same single break legitimately makes fail (e.g. three endpoints share one source).
    also: set[str] = field(default_factory=set)


CASES = [
    # manifest.yaml: presence and syntax
    Case("manifest missing", delete("manifest.yaml"), "manifest.yaml", "is not in the package"),
    Case("manifest not yaml", write("manifest.yaml", "version: [unclosed\n"), "manifest.yaml", "not valid UTF-8 YAML"),
    Case("manifest not a mapping", write("manifest.yaml", "- a\n- b\n"), "manifest.yaml", "must be a YAML mapping"),
    # identity (daemon regexes)
    Case("version two parts", manifest(set_key("version", "1.0")), "manifest.yaml", "version: '1.0' does not match"),
    Case("version 5 digits", manifest(set_key("version", "10000.0.0")), "manifest.yaml", "version: '10000.0.0'"),
    Case("version suffix", manifest(set_key("version", "1.0.0-toolongsuffix12345")), "manifest.yaml", "version:"),
    Case("type not plugin", manifest(set_key("type", "bundle")), "manifest.yaml", "type: must be 'plugin'"),
    Case("author upper case", manifest(set_key("author", "Relay")), "manifest.yaml", "author: 'Relay' does not match"),
    Case("author trailing newline", manifest(set_key("author", "relay\n")), "manifest.yaml", "author: 'relay\\n'"),
    Case("author too long", manifest(set_key("author", "a" * 65)), "manifest.yaml", "author:"),
    Case("name with space", manifest(set_key("name", "app relay")), "manifest.yaml", "name: 'app relay' does not"),
    # texts
    Case("label without en_US", manifest(drop_key("label.en_US")), "manifest.yaml", "label: en_US text is required"),
    Case("label not mapping", manifest(set_key("label", "App Relay")), "manifest.yaml", "label: must be a mapping"),
    Case(
        "description too long",
        manifest(set_key("description.en_US", "x" * 1024)),
        "manifest.yaml",
        "description: en_US is 1024 characters",
    ),
    Case(
        "translation too long",
        manifest(set_key("description.ja_JP", "説" * 1024)),
        "manifest.yaml",
        "description: ja_JP is 1024 characters",
    ),
    # icons
    Case("icon file missing", delete("_assets/icon.svg"), "manifest.yaml", "icon: _assets/icon.svg is not in the"),
    Case("icon ignored", ignore("_assets/icon.svg"), "manifest.yaml", "icon: _assets/icon.svg is not in the package"),
    Case("dark icon missing", delete("_assets/icon-dark.svg"), "manifest.yaml", "icon_dark: _assets/icon-dark.svg"),
    Case("icon not set", manifest(drop_key("icon")), "manifest.yaml", "icon: must name a file in _assets/"),
    Case("icon in subfolder", manifest(set_key("icon", "img/icon.svg")), "manifest.yaml", "icon: 'img/icon.svg' must"),
    # resources and permissions
    Case("memory missing", manifest(drop_key("resource.memory")), "manifest.yaml", "resource.memory: must be a"),
    Case("memory as text", manifest(set_key("resource.memory", "256MB")), "manifest.yaml", "resource.memory:"),
    Case(
        "endpoint permission off",
        manifest(set_key("resource.permission.endpoint.enabled", False)),
        "manifest.yaml",
        "resource.permission.endpoint.enabled: must be true",
    ),
    Case(
        "app permission missing",
        manifest(drop_key("resource.permission.app")),
        "manifest.yaml",
        "resource.permission.app.enabled: must be true",
    ),
    Case(
        "storage too small",
        manifest(set_key("resource.permission.storage", {"enabled": True, "size": 10})),
        "manifest.yaml",
        "resource.permission.storage.size",
    ),
    # extensions
    Case(
        "two endpoint groups",
        manifest(set_key("plugins.endpoints", [GROUP, GROUP])),
        "manifest.yaml",
        "plugins.endpoints: must list exactly one endpoint group (Dify only uses one), found 2",
    ),
    Case("no endpoint group", manifest(set_key("plugins.endpoints", [])), "manifest.yaml", "found 0"),
    Case(
        "endpoints with models",
        manifest(set_key("plugins.models", ["provider/x.yaml"])),
        "manifest.yaml",
        "plugins.models: cannot be combined with endpoints",
    ),
    # meta and runner
    Case("meta version", manifest(set_key("meta.version", "1")), "manifest.yaml", "meta.version: '1' does not match"),
    Case("arch unknown", manifest(set_key("meta.arch", ["amd64", "riscv64"])), "manifest.yaml", "meta.arch: must be"),
    Case("arch empty", manifest(set_key("meta.arch", [])), "manifest.yaml", "meta.arch: must be a non-empty list"),
    Case("runner language", manifest(set_key("meta.runner.language", "go")), "manifest.yaml", "meta.runner.language"),
    Case("runner version number", manifest(set_key("meta.runner.version", 3.12)), "manifest.yaml", "quote it"),
    Case(
        "runner version 3.11", manifest(set_key("meta.runner.version", "3.11")), "manifest.yaml", "'3.12', got '3.11'"
    ),
    Case(
        "entrypoint without file",
        manifest(set_key("meta.runner.entrypoint", "server")),
        "manifest.yaml",
        "meta.runner.entrypoint: 'server' needs server.py in the package",
    ),
    Case("main.py ignored", ignore("main.py"), "manifest.yaml", "'main' needs main.py in the package"),
    Case(
        "minimum dify version",
        manifest(set_key("meta.minimum_dify_version", "latest")),
        "manifest.yaml",
        "meta.minimum_dify_version",
    ),
    # other manifest fields
    Case("unknown tag", manifest(set_key("tags", ["cats"])), "manifest.yaml", "tags: must be a list of"),
    Case(
        "created_at text", manifest(set_key("created_at", "yesterday")), "manifest.yaml", "created_at: must be an RFC"
    ),
    Case("created_at missing", manifest(drop_key("created_at")), "manifest.yaml", "created_at:"),
    Case("privacy file missing", delete("PRIVACY.md"), "manifest.yaml", "privacy: PRIVACY.md is not in the package"),
    Case("repo not a url", manifest(set_key("repo", "github.com/x")), "manifest.yaml", "repo: must be an http(s) URL"),
    # the endpoint group
    Case("group missing", delete(GROUP), GROUP, "the endpoint group listed in manifest.yaml is not in the package"),
    Case("group ignored", ignore("group/"), GROUP, "is not in the package (missing, or excluded by .difyignore)"),
    Case(
        "too many settings",
        group(lambda g: g["settings"].extend(setting(f"extra_{i}") for i in range(65 - SETTINGS))),
        GROUP,
        "settings: 65 fields, Dify accepts at most 64",
    ),
    Case("setting type", add_setting(type="password"), GROUP, f"settings[{SETTINGS}].type: must be one"),
    Case("setting name missing", add_setting(name=None), GROUP, f"settings[{SETTINGS}].name: must be"),
    Case(
        "setting name twice",
        both(add_setting(), add_setting()),
        GROUP,
        f"settings[{SETTINGS + 1}].name: 'added' is used twice",
    ),
    Case("setting label", add_setting(label={"ja_JP": "x"}), GROUP, f"settings[{SETTINGS}].label: en_US text"),
    Case("group without endpoints", group(set_key("endpoints", [])), GROUP, "endpoints: must list at least one"),
    # endpoint files
    Case(
        "endpoint file missing",
        delete(ENDPOINT),
        ENDPOINT,
        f"an endpoint listed in {GROUP} is not in the package",
    ),
    Case("path without slash", endpoint(ENDPOINT, set_key("path", "no-slash")), ENDPOINT, "path:"),
    Case("method PATCH", endpoint(ENDPOINT, set_key("method", "PATCH")), ENDPOINT, "method:"),
    Case(
        "method lower case",
        endpoint(ENDPOINT, set_key("method", FIRST.method.lower())),
        ENDPOINT,
        f"got '{FIRST.method.lower()}'",
    ),
    Case("hidden not bool", endpoint(ENDPOINT, set_key("hidden", "yes")), ENDPOINT, "hidden:"),
    Case(
        "source not python",
        endpoint(ENDPOINT, set_key("extra.python.source", SOURCE.removesuffix(".py") + ".txt")),
        ENDPOINT,
        "extra.python.source: must name the endpoint's .py file",
    ),
    Case(
        "source missing",
        delete(SOURCE),
        ENDPOINT,
        f"extra.python.source: {SOURCE} is not in the package",
        also=SHARING,
    ),
    Case(
        "same route twice",
        declare("endpoints/same_route_again.yaml", FIRST.path, FIRST.method, SOURCE),
        "endpoints/same_route_again.yaml",
        f"{FIRST.method} {FIRST.path} is already declared by {ENDPOINT}",
    ),
    # files beside the manifest
    Case("requirements missing", delete("requirements.txt"), "requirements.txt", "is not in the package"),
    Case("requirements without sdk", write("requirements.txt", "werkzeug\n"), "requirements.txt", "dify-plugin"),
    Case(
        "tool-only pyproject packaged",
        both(unignore("pyproject.toml"), write("pyproject.toml", "[tool.ruff]\nline-length = 120\n")),
        "pyproject.toml",
        "declares no [project] dependencies",
    ),
    Case("readme missing", delete("README.md"), "README.md", "the daemon requires it"),
    Case(
        "verification file in the tree",
        write(".verification.dify.json", '{"authorized_category":"langgenius"}'),
        ".verification.dify.json",
        "reserved for the signature",
    ),
    # Python sources
    Case("syntax error", write(SOURCE, "def broken(:\n", append=True), SOURCE, "does not compile"),
    # the SDK itself, on the staged files
    Case(
        "sdk: version not PEP 440",
        manifest(set_key("version", "1.0.0-x1")),
        "manifest.yaml",
        "version: Value error, Invalid version format: 1.0.0-x1 (SDK PluginConfiguration)",
        sdk=True,
    ),
    Case(
        "sdk: option without label",
        add_setting(type="select", options=[{"value": "a"}]),
        GROUP,
        f"settings[{SETTINGS}].options.0.label: Field required (SDK ProviderConfig)",
        sdk=True,
    ),
    Case(
        "sdk: no Endpoint subclass",
        write(SOURCE, "VALUE = 1\n"),
        SOURCE,
        f"Missing subclass of Endpoint in {SOURCE}",
        sdk=True,
    ),
    Case(
        # The README's trap: importing another endpoint's class puts a second Endpoint subclass in the namespace.
        "sdk: two Endpoint subclasses",
        both(
            write("endpoints/second.py", f"from {SOURCE_MODULE} import {SOURCE_CLASS}  # noqa: F401\n" + SECOND),
            declare("endpoints/second_get.yaml", "/second", "GET", "endpoints/second.py"),
        ),
        "endpoints/second.py",
        "Multiple subclasses of Endpoint in endpoints/second.py",
        sdk=True,
    ),
    Case(
        "sdk: import error",
        write(SOURCE, "import not_installed_anywhere\n" + "x = 1\n"),
        SOURCE,
        "ModuleNotFoundError: No module named 'not_installed_anywhere'",
        sdk=True,
    ),
]


def test_the_unbroken_copy_passes_every_rule(plugin_dir):
    result = build(plugin_dir)
    assert result.problems == []
    assert result.archive is not None


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_rule_fails_on_its_broken_input(plugin_dir, case):
    case.breaks(plugin_dir)
    result = build(plugin_dir, run_sdk=case.sdk)
    found = errors(result.problems)
    assert result.archive is None
    assert any(p.file == case.file and case.fragment in p.message for p in found), "\n".join(map(str, found))
    assert {p.file for p in found} <= {case.file, *case.also}, "\n".join(map(str, found))


def test_a_package_over_the_size_limit_is_refused_naming_the_largest_files(plugin_dir):
    (plugin_dir / "_assets" / "video.bin").write_bytes(b"\0" * 200_000)
    result = build(plugin_dir, max_bytes=150_000, run_sdk=False)
    [problem] = errors(result.problems)
    assert problem.file == "(package)"
    assert "the daemon accepts at most 150000" in problem.message
    assert "largest files: _assets/video.bin (200000 bytes)" in problem.message


def test_a_package_over_difys_upload_limit_builds_with_a_warning(plugin_dir):
    (plugin_dir / "_assets" / "noise.bin").write_bytes(os.urandom(16 * 1024 * 1024))  # random: does not deflate
    result = build(plugin_dir, run_sdk=False)
    assert result.archive is not None
    [warning] = [p for p in result.problems if p.severity == "warning"]
    assert "Dify refuses uploads over 15728640 bytes unless PLUGIN_MAX_PACKAGE_SIZE is raised" in warning.message
    assert upload_size_warning(15 * 1024 * 1024) == []


def test_the_command_reports_every_failure_one_line_each_and_writes_nothing(plugin_dir, tmp_path):
    manifest(set_key("author", "Relay"))(plugin_dir)
    manifest(set_key("meta.arch", ["riscv64"]))(plugin_dir)
    delete("_assets/icon-dark.svg")(plugin_dir)
    endpoint(ENDPOINT, set_key("method", "PATCH"))(plugin_dir)
    write(SOURCE, "VALUE = 1\n")(plugin_dir)
    output_dir = tmp_path / "out"

    result = run_devkit("package", "--plugin-dir", plugin_dir, "--output-dir", output_dir)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: manifest.yaml: author: 'Relay' does not match the daemon's ^[a-z0-9_-]{1,64}$",
        "error: manifest.yaml: icon_dark: _assets/icon-dark.svg is not in the package (missing, or excluded by "
        ".difyignore)",
        "error: manifest.yaml: meta.arch: must be a non-empty list of ['amd64', 'arm64'], got ['riscv64']",
        f"error: {ENDPOINT}: method: must be one of ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'] (upper "
        "case), got 'PATCH'",
        f"error: {SOURCE}: the SDK's class loader cannot use it: Exception: Missing subclass of Endpoint in {SOURCE}",
        "package not written: 5 errors",
    ]
    assert result.stdout == ""
    assert not output_dir.exists()
