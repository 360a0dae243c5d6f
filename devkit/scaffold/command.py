"""``make scaffold NAME=… AUTHOR=… [LABEL=…] [MINIMAL=1]``: rename the plugin, validate it, say what comes next.

    python -m devkit scaffold --name my_plugin --author me [--label "My Plugin"] [--minimal] [--plugin-dir DIR]

In place, on a plugin directory (default: this repository; use a fresh copy). Name and author are checked against
the daemon's rules before any file changes, the result with the packaging rules and the SDK as ``make package``
does. Exit code 0 when it passes, 1 when not (problems printed), 2 for bad arguments.
"""

import argparse
import sys
from pathlib import Path

from devkit.local import ROOT
from devkit.packaging.package import build
from devkit.packaging.rules import errors
from devkit.scaffold import minimal, rename


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devkit scaffold",
        description="Rename this plugin (manifest, group file, documents) to start your own endpoint plugin.",
    )
    parser.add_argument("--name", required=True, help="plugin name: lowercase letters, digits, _ or - (my_plugin)")
    parser.add_argument("--author", required=True, help="author id: lowercase letters, digits, _ or -")
    parser.add_argument("--label", help="the name people see (default: from --name, my_plugin -> My Plugin)")
    parser.add_argument(
        "--minimal", action="store_true", help="replace the relay with one example endpoint (GET /hello)"
    )
    parser.add_argument("--plugin-dir", type=Path, default=ROOT, help="plugin root (default: this repository)")
    args = parser.parse_args(argv)
    plugin_dir: Path = args.plugin_dir.resolve()
    label = args.label if args.label is not None else rename.default_label(args.name)
    identity = rename.Identity(args.name, args.author, label)

    if problems := rename.identity_problems(identity):
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print("usage: make scaffold NAME=my_plugin AUTHOR=your_id [LABEL='My Plugin'] [MINIMAL=1]", file=sys.stderr)
        return 2
    changes = rename.Changes()
    try:
        current = rename.read_current(plugin_dir)
        if args.minimal:
            minimal.strip_to_minimal(plugin_dir, identity, changes)
        description, version = (minimal.DESCRIPTION, minimal.VERSION) if args.minimal else (None, None)
        rename.rename(plugin_dir, identity, current, changes, description=description, version=version)
    except (rename.ScaffoldError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    print(f"{current.name} -> {identity.name}: author {identity.author}, label {identity.label!r}, in {plugin_dir}")
    for verb, paths in (
        ("renamed", [f"{old} -> {new}" for old, new in changes.renamed]),
        ("removed", changes.removed),
        ("wrote", changes.written),
        ("edited", dict.fromkeys(changes.edited)),
    ):
        for path in paths:
            print(f"  {verb:8} {path}")

    result = build(plugin_dir)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if result.archive is None:
        count = len(errors(result.problems))
        print(f"the renamed plugin breaks {count} packaging rule(s): fix the errors above", file=sys.stderr)
        return 1
    print(f"Checked with the packaging rules: {result.filename} can be built.")
    print(next_steps(identity, minimal_copy=args.minimal, package=result.filename))
    return 0


def next_steps(identity: rename.Identity, *, minimal_copy: bool, package: str) -> str:
    group = rename.group_path(identity.name)
    steps = [
        "Replace _assets/icon.svg and _assets/icon-dark.svg, and write the description in manifest.yaml"
        + ("" if minimal_copy else " and README.md"),
        f"Add an endpoint: endpoints/<name>.py (one Endpoint subclass) and endpoints/<name>_<method>.yaml, listed "
        f"under endpoints: in {group}; a setting: under settings: in {group}",
    ]
    if minimal_copy:
        steps += [
            "make test     lint, format check, the tests through the real plugin process",
            "make run      the plugin on http://127.0.0.1:5002, served as Dify serves it",
            f"dify plugin package .   (Dify's plugin CLI) writes {package}",
        ]
    else:
        steps += [
            "make test     lint and every test; the declaration and packaging tests follow the manifest and the group",
            "make run      the plugin on http://127.0.0.1:5002 with a stand-in for Dify",
            f"make package  dist/{package}",
        ]
    steps.append('git add -A && git commit -m "Start ' + identity.name + ' from the scaffold"')
    return "\nNext:\n" + "\n".join(f"  {number}. {step}" for number, step in enumerate(steps, 1))
