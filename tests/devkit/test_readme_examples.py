"""Every example of the README and of the developer guide (DEVELOPING.md) runs, as written, against what ``make run``
serves.

Both documents follow the same rules, below. The guide's own commands (``make``, ``pytest``, ``devkit``) are not
requests to the endpoint: like any shell command but ``curl``, they are not examples here.

``make run``'s endpoint here is the devkit server: the plugin of this repository, the demo apps behind it, the
settings ``make run`` starts with. An example that sends a key (``<key>`` or ``$KEY``) runs against an endpoint
whose ``api_key`` is that key.

- ``curl`` commands, from the ``sh`` blocks (indented ones too, as in a list) and from inline code in the text,
  run in ``bash`` with ``$BASE`` set to the endpoint URL and the files they upload (``-F name=@file``) in their
  working directory. Each must exit 0, get no HTTP error, and print (or save) no error.
- ``python`` blocks run in a subprocess of this interpreter, with the endpoint URL they show
  (``http://127.0.0.1:5002/e/<hook_id>``) replaced by the server's. Each must exit 0 and print what it fetched.
- MCP host configurations (``json`` blocks): the one by URL is used by the ``mcp`` client as a host would use it.
- The JavaScript examples run in Chromium: ``tests/browser/test_readme_js.py``.

Not run, each for a reason the README gives too: a ``curl`` line it says is for the reader's own apps ("`make
run` has no app …" right after it; it must name an app the demo lacks), and the ``mcp-remote`` configuration,
which needs Node.js and a package from npm (it must carry the URL and header of the one by URL).
"""

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from devkit.daemon.server import DevDaemonServer
from devkit.demo.apps import DEMO_APPS, DemoApps
from devkit.serve import create_server, default_settings
from tests.devkit.conftest import ROOT
from tests.devkit.shell import assert_worked, run

KEY = "readme-example-key"
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE = ROOT / "DEVELOPING.md"
DOCUMENTS = {"README.md": README} | ({"DEVELOPING.md": GUIDE.read_text(encoding="utf-8")} if GUIDE.is_file() else {})
"""The documents whose examples run: the README, and the developer guide where the repository has one."""
SHOWN_ENDPOINT = "http://127.0.0.1:5002/e/<hook_id>"
"""The endpoint URL the README's programs show: ``make run``'s, with the hook id left to the reader."""
YOUR_DIFY = "https://<your-dify>/e/<hook_id>"
FOR_YOUR_DIFY = "`make run` has no app"
"""What the README says right after an example written for the reader's own apps: that one is not run here."""


def fenced_blocks(markdown: str, language: str) -> list[str]:
    """The code of every fenced block in ``language``, indented blocks (in a list item) included, dedented."""
    found = []
    for match in re.finditer(rf"^( *)```{language}\n(.*?)^\1```", markdown, flags=re.MULTILINE | re.DOTALL):
        indent = len(match.group(1))
        found.append("".join(line[indent:] for line in match.group(2).splitlines(keepends=True)))
    return found


def inline_commands(markdown: str) -> list[str]:
    """``curl`` commands written as inline code in the text (a line break inside one reads as a space)."""
    outside_blocks = re.sub(r"^ *```.*?^ *```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return [" ".join(code.split()) for code in re.findall(r"`(curl [^`]+)`", outside_blocks)]


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


def for_your_dify(command: str, markdown: str) -> bool:
    """Whether the document says, right after this command, that it is written for the reader's own Dify."""
    flowing = " ".join(markdown.split())  # line breaks read as spaces, as in the command
    end = flowing.find(command) + len(command)
    return FOR_YOUR_DIFY in flowing[end : end + 200]


@dataclass(frozen=True)
class Example:
    document: str
    """The file it is written in: ``README.md`` or ``DEVELOPING.md``."""
    kind: str
    """``curl``, ``python``, ``mcp-url`` (a host configuration by URL), ``mcp-bridge`` (one through
    ``mcp-remote``, which needs Node.js: checked, not run), ``your-dify`` (a curl line for the reader's apps)."""
    code: str

    def __str__(self) -> str:
        return f"{self.document} {self.kind}: {' '.join(self.code.split())[:60]}"


def examples() -> list[Example]:
    found = []
    for document, markdown in DOCUMENTS.items():
        curls = [*(c for block in fenced_blocks(markdown, "sh") for c in commands(block)), *inline_commands(markdown)]
        for command in curls:
            if command.startswith("curl "):
                found.append(Example(document, "your-dify" if for_your_dify(command, markdown) else "curl", command))
        found += [Example(document, "python", program) for program in fenced_blocks(markdown, "python")]
        for block in fenced_blocks(markdown, "json"):
            for server in json.loads(block).get("mcpServers", {}).values():
                kind = "mcp-url" if "url" in server else "mcp-bridge"
                found.append(Example(document, kind, json.dumps(server)))
    return found


EXAMPLES = examples()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DevDaemonServer, list[str]]]:
    console: list[str] = []
    server = create_server(ROOT, DemoApps(token_delay=0), console=console.append, plugin_log=lambda _: None)
    server.serve_in_background()
    yield server, console
    server.close()


def test_the_readme_has_examples_and_finds_them_where_they_are():
    assert any(example.kind == "curl" and example.document == "README.md" for example in EXAMPLES)
    for document, markdown in DOCUMENTS.items():
        codes = {example.code for example in EXAMPLES if example.document == document}
        for indented in re.findall(r"^ +```sh\n(.*?)^ +```", markdown, flags=re.MULTILINE | re.DOTALL):  # in a list
            assert {command for command in commands(indented) if command.startswith("curl ")} <= codes, document


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_each_example_works_against_make_run(served, tmp_path: Path, example: Example):
    server, console = served
    needs_key = "<key>" in example.code or "$KEY" in example.code
    server.settings = default_settings(ROOT) | ({"api_key": KEY} if needs_key else {})
    {
        "curl": run_curl,
        "python": run_python,
        "mcp-url": connect_mcp_host,
        "mcp-bridge": check_mcp_bridge,
        "your-dify": check_for_your_dify,
    }[example.kind](example, server, console, tmp_path)


def run_curl(example: Example, server: DevDaemonServer, console: list[str], cwd: Path) -> None:
    command = example.code
    for upload in re.findall(r"=@([^\s;]+)", " ".join(shlex.split(command))):
        shutil.copyfile(ROOT / upload, cwd / upload)  # as if run at the repository's root
    environment = {"PATH": os.environ["PATH"], "BASE": server.endpoint_url, "KEY": KEY}
    assert_worked(run(command.replace("<key>", KEY), env=environment, cwd=cwd, console=console))


def run_python(example: Example, server: DevDaemonServer, console: list[str], cwd: Path) -> None:
    assert SHOWN_ENDPOINT in example.code  # else it would call nothing of ours
    program = example.code.replace(SHOWN_ENDPOINT, server.endpoint_url).replace("<key>", KEY)
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout.strip().splitlines()
    # Something printed, and no print of a value that is missing (an answer may hold blank lines of its own).
    assert printed and not [line for line in printed if line.strip() in ("None", "[]", "{}", "''")], result.stdout
    assert "error" not in result.stdout.lower(), result.stdout


def connect_mcp_host(example: Example, server: DevDaemonServer, console: list[str], cwd: Path) -> None:
    """What a host configured so sees: the endpoint's named apps, as tools."""
    host = json.loads(example.code)
    assert host["url"].startswith(YOUR_DIFY)
    url = host["url"].replace(YOUR_DIFY, server.endpoint_url)
    headers = {name: value.replace("<key>", KEY) for name, value in host.get("headers", {}).items()}
    named = [entry.split("=")[0].split(":")[-1] for entry in server.settings["allowed_apps"].split(", ")]
    assert asyncio.run(tools_of(url, headers)) == named


async def tools_of(url: str, headers: dict[str, str]) -> list[str]:
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return [tool.name for tool in (await client.list_tools()).tools]


def check_mcp_bridge(example: Example, server: DevDaemonServer, console: list[str], cwd: Path) -> None:
    """Not run (``npx mcp-remote`` needs Node.js and a download from npm): once ``mcp-remote`` has put the
    ``env`` values into its ``${NAME}`` arguments, the URL and the headers of the configuration by URL of the same
    document, which is run."""
    bridged = json.loads(example.code)
    [by_url] = [
        json.loads(other.code) for other in EXAMPLES if (other.kind, other.document) == ("mcp-url", example.document)
    ]
    environment = bridged.get("env", {})
    args = [re.sub(r"\$\{(\w+)\}", lambda match: environment[match[1]], arg) for arg in bridged["args"]]
    assert bridged["command"] == "npx" and args[:2] == ["mcp-remote", by_url["url"]]
    options = args[2:]
    assert options[::2] == ["--header"] * (len(options) // 2) and len(options) % 2 == 0
    headers = dict((part.strip() for part in header.split(":", 1)) for header in options[1::2])
    assert headers == by_url.get("headers", {})


def check_for_your_dify(example: Example, server: DevDaemonServer, console: list[str], cwd: Path) -> None:
    """Not run: written for the reader's own apps, and said so. It must name an app ``make run`` lacks; a demo
    app's example is run, never excused."""
    [(_, name)] = re.findall(r"/(chat|workflow|completion)/([\w-]+)", example.code)
    assert name not in {app.slug for app in DEMO_APPS}
