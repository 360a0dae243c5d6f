"""``--minimal``: the relay out, one example endpoint in; the devkit and the tests that hold for any plugin stay.

What goes: the relay core and its endpoints, the endpoint group (rewritten), the tests of the relay (a fixed list,
then every other test file that imports a module that is gone), the relay's screenshots, the benchmark of the
relay and its ``make`` targets, the runtime requirements only the relay's pages use, and the storage permission
only the relay needs. What comes: ``GET /hello`` answering JSON, a group with one setting, a ``main.py`` without
the relay's SDK adjustments, a test of the endpoint through the real plugin process, and a README, PRIVACY and
CHANGELOG of the new plugin (``template/``).
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from devkit.scaffold.rename import Changes, Current, Identity, group_path

TEMPLATE = Path(__file__).with_name("template")
VERSION = "0.1.0"
DESCRIPTION = {
    "en_US": "A Dify endpoint plugin.",
    "zh_Hans": "一个 Dify 端点插件。",
    "ja_JP": "Dify のエンドポイントプラグインです。",
    "pt_BR": "Um plugin de endpoints para o Dify.",
}

RELAY_ONLY = (
    "relay",
    "endpoints",
    "_assets/screenshots",
    "bench",
    "devkit/bench",
    "tests/unit",
    "tests/integration",
    "tests/fuzz",
    "tests/browser",
    "tests/bench",
    "tests/devkit/bench",
    "tests/test_sdk_contract.py",
    "tests/test_relay_declaration.py",
    "tests/test_browser_requirement.py",
    "tests/devkit/test_real_plugin.py",
    "tests/devkit/packaging/test_relay_package.py",
    "readme",
    "tests/test_readme_translations.py",
)
"""Paths that belong to the relay: its code, its endpoints, and the tests and tools that exist for it."""

GONE_MODULES = ("relay", "endpoints", "devkit.bench")
"""A test file that imports one of these tests the relay: it goes too."""

MAKE_TARGETS_GONE = ("fuzz", "bench")
DEVKIT_COMMANDS_GONE = ("bench",)
REQUIREMENTS_GONE = ("jinja2", "markupsafe", "markdown-it-py")
"""Runtime requirements only the relay's html pages use."""

FILES = {
    "main.py": "main.py.tmpl",
    "endpoints/hello.py": "endpoints/hello.py.tmpl",
    "endpoints/hello_get.yaml": "endpoints/hello_get.yaml.tmpl",
    "tests/test_hello_endpoint.py": "tests/test_hello_endpoint.py.tmpl",
    "README.md": "README.md.tmpl",
    "PRIVACY.md": "PRIVACY.md.tmpl",
    "CHANGELOG.md": "CHANGELOG.md.tmpl",
}


def strip_to_minimal(plugin_dir: Path, identity: Identity, current: Current, changes: Changes) -> None:
    """Remove the relay, write the example; the manifest is left to ``rename`` (it points at the new group)."""
    for relative in (*RELAY_ONLY, current.group):
        _remove(plugin_dir, relative, changes)
    for relative in files_importing(plugin_dir, GONE_MODULES):
        _remove(plugin_dir, relative, changes)

    values = {"name": identity.name, "label": identity.label, "author": identity.author, "version": VERSION}
    values["group"] = group_path(identity.name)
    for target, source in {**FILES, values["group"]: "group.yaml.tmpl"}.items():
        text = (TEMPLATE / source).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path = plugin_dir / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changes.written.append(target)

    _edit(plugin_dir, "manifest.yaml", _without_storage_permission, changes)
    _edit(plugin_dir, "Makefile", _without_make_targets, changes)
    _edit(plugin_dir, "devkit/__main__.py", _without_devkit_commands, changes)
    _edit(plugin_dir, "requirements.txt", _without_requirements, changes)


def _remove(plugin_dir: Path, relative: str, changes: Changes) -> None:
    path = plugin_dir / relative
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    else:
        return
    changes.removed.append(relative + ("/" if not Path(relative).suffix else ""))


def files_importing(plugin_dir: Path, modules: tuple[str, ...]) -> list[str]:
    """Test files (``tests/**.py``) that import any of ``modules`` or a module inside them."""
    found = []
    for path in sorted((plugin_dir / "tests").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        if any(_is_within(name, modules) for name in _imported(tree)):
            found.append(path.relative_to(plugin_dir).as_posix())
    return found


def _imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _is_within(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == module or name.startswith(module + ".") for module in modules)


def _edit(plugin_dir: Path, relative: str, change: Callable[[str], str], changes: Changes) -> None:
    path = plugin_dir / relative
    if not path.is_file():
        return
    before = path.read_text(encoding="utf-8")
    after = change(before)
    if after != before:
        path.write_text(after, encoding="utf-8")
        changes.edited.append(relative)


def _without_storage_permission(text: str) -> str:
    """No ``resource.permission.storage``: the example keeps nothing (the relay's conversations need it)."""
    return re.sub(r"^(\s+)storage:\n(?:\1\s+[^\n]*\n)+", "", text, flags=re.MULTILINE)


def _without_make_targets(text: str) -> str:
    for target in MAKE_TARGETS_GONE:
        # The rule line and its recipe (tab-indented lines), with the blank line after it.
        text = re.sub(rf"^{target}:[^\n]*\n(?:\t[^\n]*\n)*\n?", "", text, flags=re.MULTILINE)
        text = re.sub(rf"^(\.PHONY:[^\n]*?) {target}(?=[ \n])", r"\1", text, flags=re.MULTILINE)
    return text


def _without_devkit_commands(text: str) -> str:
    for command in DEVKIT_COMMANDS_GONE:
        text = re.sub(rf'^\s*"{command}": "[^"\n]*",\n', "", text, flags=re.MULTILINE)
    return text


def _without_requirements(text: str) -> str:
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if re.split(r"[<>=~!\[ ;#]", line.strip(), maxsplit=1)[0].lower() not in REQUIREMENTS_GONE
    ]
    return "".join(kept)
