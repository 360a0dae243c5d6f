"""Which files of a plugin directory go into the package.

The daemon's own packager reads the root ``.difyignore`` (or, when there is none, ``.gitignore``) and has no
built-in ignores: whatever those files do not exclude ends up in the package, ``.git`` and ``.venv`` included.
We follow the same file choice but match with real gitignore semantics (``pathspec``'s ``GitIgnoreSpec``), so a
pattern means here what it means to git and to every editor that colours ignored files:

* ``tests/`` excludes the directory at any depth, ``/dist/`` only at the root, ``*.pem`` any file so named;
* ``!pattern`` re-includes, later lines win over earlier ones;
* like git, we never descend into an excluded directory, so a file under it cannot be re-included. (The daemon's
  walker does the same pruning; it ignores ``!`` lines altogether, so keep ``.difyignore`` a plain deny list if
  the Go CLI must produce the same package.)

Symbolic links to directories are not followed (neither does the daemon's ``filepath.WalkDir``), and the paths
returned always use ``/``, which is what a ZIP entry name must use whatever the host OS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pathspec

IGNORE_FILES = (".difyignore", ".gitignore")


@dataclass(frozen=True)
class IgnoreRules:
    """The patterns in force for one plugin directory and where they came from (``None``: no ignore file)."""

    source: str | None
    spec: pathspec.GitIgnoreSpec

    def excludes(self, relative_path: str, *, is_dir: bool = False) -> bool:
        """True when ``relative_path`` (``/``-separated, relative to the plugin root) is ignored."""
        return self.spec.match_file(relative_path + "/" if is_dir else relative_path)


def load_ignore_rules(plugin_dir: Path) -> IgnoreRules:
    """Read ``.difyignore``, else ``.gitignore``, else nothing: the daemon's order of preference."""
    for name in IGNORE_FILES:
        candidate = plugin_dir / name
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8").splitlines()
            return IgnoreRules(source=name, spec=pathspec.GitIgnoreSpec.from_lines(lines))
    return IgnoreRules(source=None, spec=pathspec.GitIgnoreSpec.from_lines([]))


def select_files(plugin_dir: Path, rules: IgnoreRules | None = None) -> list[str]:
    """All files under ``plugin_dir`` that the ignore rules keep, as sorted ``/``-separated relative paths.

    Sorting is by the UTF-8 bytes of the path, the order Go's ``slices.Sort`` gives the daemon when it computes
    the package checksum, so the archive order and the checksum order are the same.
    """
    rules = rules or load_ignore_rules(plugin_dir)
    selected: list[str] = []
    for current, dirnames, filenames in os.walk(plugin_dir):
        relative_dir = Path(current).relative_to(plugin_dir).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        # Pruning in place is what keeps os.walk out of excluded directories (.git, .venv can be huge).
        dirnames[:] = sorted(d for d in dirnames if not rules.excludes(prefix + d, is_dir=True))
        for filename in filenames:
            relative_path = prefix + filename
            if not rules.excludes(relative_path) and (Path(current) / filename).is_file():
                selected.append(relative_path)
    return sorted(selected, key=lambda path: path.encode("utf-8"))
