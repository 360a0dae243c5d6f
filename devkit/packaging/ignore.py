"""Which files of a plugin directory go into the package.

The daemon's own packager reads the root ``.difyignore`` (or, when there is none, ``.gitignore``) and has no
built-in ignores: whatever those files do not exclude ends up in the package, ``.git`` and ``.venv`` included.
We follow the same file choice but match with real gitignore semantics (``pathspec``'s ``GitIgnoreSpec``), so a
pattern means here what it means to git: ``tests/`` at any depth, ``/dist/`` only at the root, ``!`` re-includes
and later lines win. Like git, we never descend into an excluded directory, so a file under it cannot be
re-included. (The daemon's walker prunes alike but ignores ``!`` lines altogether: keep ``.difyignore`` a plain
deny list if the Go CLI must produce the same package.)

Symbolic links to directories are not followed (neither does the daemon's ``filepath.WalkDir``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pathspec

from devkit.packaging.archive import sort_key

IGNORE_FILES = (".difyignore", ".gitignore")


@dataclass(frozen=True)
class IgnoreRules:
    """The patterns in force for one plugin directory and the file they came from (``None``: no ignore file)."""

    source: str | None
    spec: pathspec.GitIgnoreSpec

    def excludes(self, relative_path: str, *, is_dir: bool = False) -> bool:
        return self.spec.match_file(relative_path + "/" if is_dir else relative_path)


def load_ignore_rules(plugin_dir: Path) -> IgnoreRules:
    """Read ``.difyignore``, else ``.gitignore``, else nothing: the daemon's order of preference."""
    for name in IGNORE_FILES:
        if (plugin_dir / name).is_file():
            lines = (plugin_dir / name).read_text(encoding="utf-8").splitlines()
            return IgnoreRules(source=name, spec=pathspec.GitIgnoreSpec.from_lines(lines))
    return IgnoreRules(source=None, spec=pathspec.GitIgnoreSpec.from_lines([]))


def select_files(plugin_dir: Path) -> list[str]:
    """The files under ``plugin_dir`` that its ignore rules keep: ``/``-separated relative paths in archive order."""
    rules = load_ignore_rules(plugin_dir)
    selected: list[str] = []
    for current, dirnames, filenames in os.walk(plugin_dir):
        relative_dir = Path(current).relative_to(plugin_dir).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        # Pruning in place is what keeps os.walk out of excluded directories (.git, .venv can be huge).
        dirnames[:] = [d for d in dirnames if not rules.excludes(prefix + d, is_dir=True)]
        for filename in filenames:
            relative_path = prefix + filename
            if not rules.excludes(relative_path) and (Path(current) / filename).is_file():
                selected.append(relative_path)
    return sorted(selected, key=sort_key)
