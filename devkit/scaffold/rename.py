"""Give the plugin a new identity wherever it is named: in ``manifest.yaml``, ``name``, ``author``, ``label`` (the
same text in all four languages Dify shows: a name is not translated), ``created_at`` (now) and the endpoint group,
whose file becomes ``group/<name>.yaml``; in every text file naming the plugin (documents, pages, workflows, tests),
each spelling of the name (``name_replacements``) and the old labels, but not in ``CHANGELOG.md``'s history.

The manifest is edited line by line, keeping its comments, order and quoting; the result is parsed and compared
with what was asked before anything else changes.
"""

import datetime
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devkit.packaging.rules import AUTHOR_RE, I18N_LANGUAGES, I18N_MAX_CHARS, MANIFEST, NAME_RE

TEXT_SUFFIXES = frozenset(
    {".md", ".py", ".yaml", ".yml", ".svg", ".html", ".css", ".txt", ".toml", ".json", ".cfg", ".ini", ".js"}
)
TEXT_NAMES = frozenset({"Makefile", ".difyignore", ".gitignore", ".env.example", "run"})
SKIPPED_DIRS = frozenset(
    {".git", ".venv", "venv", "env", "node_modules", ".tox", ".nox"}  # version control, environments
    | {"dist", "build", "test-output"}  # outputs
    | {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis"}  # caches
    | {".idea", ".vscode"}  # editor settings
)
KEPT_AS_WRITTEN = frozenset({"CHANGELOG.md"})  # history keeps the names it was written with
SCAFFOLD_DIR = "devkit/scaffold"  # the scaffold's own code and templates name no plugin


class ScaffoldError(Exception):
    """The plugin directory cannot be scaffolded as it is; the message says why."""


@dataclass(frozen=True)
class Identity:
    """What the new plugin is called: ``name`` and ``author`` as the daemon's rules want them, a display label."""

    name: str
    author: str
    label: str


@dataclass
class Changes:
    """What the scaffold did, relative paths, for its report."""

    edited: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Current:
    """What the plugin is called now, read from its manifest, and its endpoint group file."""

    name: str
    labels: dict[str, str]
    group: str


def default_label(name: str) -> str:
    """``my_plugin`` -> ``My Plugin``: a readable label when none is given."""
    words = [word for word in re.split(r"[_-]+", name) if word]
    return " ".join(word[:1].upper() + word[1:] for word in words) or name


def identity_problems(identity: Identity) -> list[str]:
    """Why the daemon would refuse this identity (checked before any file changes)."""
    problems = []
    if not NAME_RE.fullmatch(identity.name):
        problems.append(f"NAME {identity.name!r}: 1 to 128 lowercase letters, digits, '_' or '-' ({NAME_RE.pattern})")
    if not AUTHOR_RE.fullmatch(identity.author):
        problems.append(
            f"AUTHOR {identity.author!r}: 1 to 64 lowercase letters, digits, '_' or '-' ({AUTHOR_RE.pattern})"
        )
    if not identity.label.strip() or "\n" in identity.label or len(identity.label) > I18N_MAX_CHARS:
        problems.append(f"LABEL {identity.label!r}: one line of 1 to {I18N_MAX_CHARS} characters")
    return problems


def read_current(plugin_dir: Path) -> Current:
    path = plugin_dir / MANIFEST
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ScaffoldError(f"{path}: cannot be read: {' '.join(str(error).split())}") from None
    if not isinstance(manifest, dict):
        raise ScaffoldError(f"{path}: is not a YAML mapping")
    groups = (manifest.get("plugins") or {}).get("endpoints") if isinstance(manifest.get("plugins"), dict) else None
    if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], str):
        raise ScaffoldError(f"{MANIFEST}: plugins.endpoints must list exactly one endpoint group file")
    labels = manifest.get("label")
    labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
    return Current(name=str(manifest.get("name") or ""), labels=labels, group=groups[0])


def group_path(name: str) -> str:
    return f"group/{name}.yaml"


def rename(
    plugin_dir: Path,
    identity: Identity,
    current: Current,
    changes: Changes,
    *,
    description: dict[str, str] | None = None,
    version: str | None = None,
) -> None:
    """Rename the plugin in ``plugin_dir`` from ``current`` to ``identity``, recording it in ``changes``;
    ``description`` and ``version``, when given, replace the manifest's (the minimal scaffold starts afresh)."""
    new_group = group_path(identity.name)
    old_group_file = plugin_dir / current.group
    if current.group != new_group and old_group_file.is_file():
        target = plugin_dir / new_group
        if target.exists():
            raise ScaffoldError(f"{new_group} exists already; remove it or choose another NAME")
        target.parent.mkdir(parents=True, exist_ok=True)
        old_group_file.rename(target)
        changes.renamed.append((current.group, new_group))

    text = (plugin_dir / MANIFEST).read_text(encoding="utf-8")
    fields = {
        "name": identity.name,
        "author": identity.author,
        "label": _mapping_block(dict.fromkeys(I18N_LANGUAGES, identity.label)),
        "description": None if description is None else _mapping_block(description),
        "version": version,
        "created_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for key, value in fields.items():
        if value is not None:
            text = set_top_level(text, key, value)
    text = _replace_group_reference(text, current.group, new_group)
    _check_manifest(text, identity, new_group, version)
    (plugin_dir / MANIFEST).write_text(text, encoding="utf-8")
    changes.edited.append(MANIFEST)

    replacements = name_replacements(current, identity)
    for relative in text_files(plugin_dir):
        if relative == MANIFEST or relative in KEPT_AS_WRITTEN:
            continue
        path = plugin_dir / relative
        try:
            before = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        after = before
        for pattern, replacement in replacements:
            after = pattern.sub(replacement, after)
        if after != before:
            path.write_text(after, encoding="utf-8")
            changes.edited.append(relative)


def name_replacements(current: Current, identity: Identity) -> list[tuple[re.Pattern[str], str]]:
    """The old name in each spelling, then the old labels (longest first), with their new text. For ``my_plugin``:
    as written, a whole word (``dist/my_plugin-0.1.0.difypkg``); alone or as a prefix, upper case with ``_``
    (environment variables: ``MY_PLUGIN_KEEPALIVE_SECONDS``) and with ``-`` (temp folders: ``my-plugin-bench-``)."""
    found: list[tuple[re.Pattern[str], str]] = []
    if current.name and current.name != identity.name:
        word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(current.name)}(?![A-Za-z0-9_])")
        found.append((word, identity.name))
        for joiner, spelled in (("_", lambda n: n.upper().replace("-", "_")), ("-", lambda n: n.replace("_", "-"))):
            old = spelled(current.name)
            # Only a name of several words: a one-word name in capitals (DEMO_, ACME_) may well be something else.
            if joiner in old and old != current.name:
                # A prefix ends at its joiner: MY_PLUGIN_X and my-plugin-x are renamed, MY_PLUGINS is not.
                spelling = re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(old)}(?=$|{joiner}|[^A-Za-z0-9_-])")
                found.append((spelling, spelled(identity.name)))
    for label in sorted(set(current.labels.values()), key=len, reverse=True):
        if label.strip() and label != identity.label:
            found.append((re.compile(re.escape(label)), identity.label.replace("\\", "\\\\")))
    return found


def text_files(plugin_dir: Path) -> Iterator[str]:
    """The plugin's text files, ``/``-separated and relative, outside tool folders and the scaffold itself."""
    for current, dirnames, filenames in os.walk(plugin_dir):
        prefix = (Path(current).relative_to(plugin_dir).as_posix() + "/").removeprefix("./")
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_DIRS and prefix + name != SCAFFOLD_DIR)
        yield from (prefix + f for f in sorted(filenames) if Path(f).suffix in TEXT_SUFFIXES or f in TEXT_NAMES)


def set_top_level(text: str, key: str, value: str) -> str:
    """Replace the top-level ``key`` of a YAML document (its line and the indented lines under it), or add it at
    the end, with ``value``: a scalar after ``key: ``, or a block (starting with a newline) under ``key:``."""
    lines = text.splitlines(keepends=True)
    head = re.compile(rf"^{re.escape(key)}\s*:")
    replacement = f"{key}:{value}\n" if value.startswith("\n") else f"{key}: {value}\n"
    for index, line in enumerate(lines):
        if head.match(line):
            end = index + 1
            while end < len(lines) and lines[end].startswith((" ", "\t", "- ")):
                end += 1
            return "".join([*lines[:index], replacement, *lines[end:]])
    separator = "" if not text or text.endswith("\n") else "\n"
    return text + separator + replacement


def _mapping_block(values: dict[str, str]) -> str:
    """A block of ``  language: "text"`` lines; JSON strings are valid YAML double-quoted scalars."""
    return "".join(f"\n  {key}: {json.dumps(text, ensure_ascii=False)}" for key, text in values.items())


def _replace_group_reference(text: str, old: str, new: str) -> str:
    item = re.compile(rf"^(\s*-\s*)(['\"]?){re.escape(old)}\2(\s*)$", re.MULTILINE)
    replaced, count = item.subn(lambda m: f"{m.group(1)}{m.group(2)}{new}{m.group(2)}{m.group(3)}", text)
    if count != 1 and old != new:
        raise ScaffoldError(f"{MANIFEST}: cannot find the line that lists {old} under plugins.endpoints")
    return replaced


def _check_manifest(text: str, identity: Identity, group: str, version: str | None) -> None:
    """The edited manifest says what was asked; otherwise nothing is written."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScaffoldError(f"{MANIFEST}: the edit would break it: {' '.join(str(error).split())}") from None
    data = data if isinstance(data, dict) else {}
    found = (data.get("name"), data.get("author"), (data.get("label") or {}).get("en_US"))
    endpoints = (data.get("plugins") or {}).get("endpoints")
    if (
        found != (identity.name, identity.author, identity.label)
        or endpoints != [group]
        or (version is not None and str(data.get("version")) != version)
    ):
        raise ScaffoldError(f"{MANIFEST}: editing it line by line did not give the expected result; edit it by hand")
