"""``make scaffold NAME=… AUTHOR=… [LABEL=…] [MINIMAL=1]``: rename the plugin, validate it, say what comes next.

    python -m devkit scaffold --name my_plugin --author me [--label "My Plugin"] [--minimal] [--plugin-dir DIR]

Works on a plugin directory (default: this repository), in place: run it on a fresh copy of the repository. The
name and author are checked against the daemon's rules before any file changes; the result is then checked with
the packaging rules (``devkit.packaging``), the SDK included, exactly as ``make package`` would check it. Exit
code 0 when the renamed plugin passes them, 1 when it does not (the problems are printed), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devkit.local import ROOT
from devkit.packaging.package import build
from devkit.packaging.rules import errors
from devkit.scaffold import minimal
from devkit.scaffold.rename import (
    Changes,
    Identity,
    ScaffoldError,
    default_label,
    group_path,
    identity_problems,
    read_current,
    rename,
)


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
    identity = Identity(args.name, args.author, args.label if args.label is not None else default_label(args.name))

    problems = identity_problems(identity)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print("usage: make scaffold NAME=my_plugin AUTHOR=your_id [LABEL='My Plugin'] [MINIMAL=1]", file=sys.stderr)
        return 2
    changes = Changes()
    try:
        current = read_current(plugin_dir)
        if args.minimal:
            minimal.strip_to_minimal(plugin_dir, identity, changes)
            rename(plugin_dir, identity, current, changes, description=minimal.DESCRIPTION, version=minimal.VERSION)
        else:
            rename(plugin_dir, identity, current, changes)
    except (ScaffoldError, OSError) as error:
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


def next_steps(identity: Identity, *, minimal_copy: bool, package: str) -> str:
    group = group_path(identity.name)
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
