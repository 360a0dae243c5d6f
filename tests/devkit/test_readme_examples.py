"""Every curl example of the README's ``sh`` blocks runs, as written, against what ``make run`` serves.

``$BASE`` is the endpoint URL of the devkit server (the plugin of this repository, the demo apps behind it, the
settings ``make run`` starts with). An example that sends a key (``<key>`` or ``$KEY``) runs against an endpoint
whose ``api_key`` is that key. Each must exit 0, get no HTTP error, and print (or save) no error.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.demo.apps import DemoApps
from devkit.serve import create_server, default_settings
from tests.devkit.conftest import ROOT
from tests.devkit.shell import assert_worked, run

KEY = "readme-example-key"


def sh_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, comments and blank lines left out."""
    found: list[str] = []
    current = ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            found.append(current.strip())
            current = ""
    return found


EXAMPLES = [
    command
    for block in sh_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    for command in commands(block)
    if command.startswith("curl ")
]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[object, list[str]]]:
    console: list[str] = []
    server = create_server(ROOT, DemoApps(token_delay=0), console=console.append, plugin_log=lambda _: None)
    server.serve_in_background()
    yield server, console
    server.close()


def test_the_readme_has_curl_examples():
    assert EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=[example[:60] for example in EXAMPLES])
def test_each_curl_example_works_against_make_run(served, tmp_path: Path, example: str):
    server, console = served
    needs_key = "<key>" in example or "$KEY" in example
    server.settings = default_settings(ROOT) | ({"api_key": KEY} if needs_key else {})
    environment = {"PATH": os.environ["PATH"], "BASE": server.endpoint_url, "KEY": KEY}
    assert_worked(run(example.replace("<key>", KEY), env=environment, cwd=tmp_path, console=console))
