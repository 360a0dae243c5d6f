"""Which files of a plugin directory go into the package.

The daemon's packager reads the root ``.difyignore`` (else ``.gitignore``) and has no built-in ignores: what they
do not exclude is packaged, ``.git`` and ``.venv`` included. Same file choice here, matched with real gitignore
semantics (``pathspec``'s ``GitIgnoreSpec``): ``tests/`` at any depth, ``/dist/`` only at the root, ``!``
re-includes, later lines win; as in git, an excluded directory is not entered, so nothing in it is re-included.
(The daemon's walker prunes alike but ignores ``!`` lines: keep ``.difyignore`` a plain deny list if the Go CLI
must produce the same package.) Symbolic links to directories are not followed (nor by ``filepath.WalkDir``).
"""

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
        prefix = (Path(current).relative_to(plugin_dir).as_posix() + "/").removeprefix("./")
        # Pruning in place is what keeps os.walk out of excluded directories (.git, .venv can be huge).
        dirnames[:] = [d for d in dirnames if not rules.excludes(prefix + d, is_dir=True)]
        for name in filenames:
            if not rules.excludes(prefix + name) and (Path(current) / name).is_file():
                selected.append(prefix + name)
    return sorted(selected, key=sort_key)
