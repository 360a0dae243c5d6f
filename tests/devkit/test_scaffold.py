"""``make scaffold`` on copies of the repository, as a new user starts from it.

Each copy holds the repository's files (tracked, or new and not ignored), is renamed with the real command and
gets an endpoint and a setting exactly as the "make it yours" steps say. What a copy changes is then checked,
not the whole suite again (this repository's own run has it):

* the renamed copy: its names, its lint, the tests that follow the plugin's declarations (an added endpoint must
  break none of them: the relay's rules hold for the relay's routes), and its package, built and checked with the
  SDK as ``make package`` does;
* the minimal copy: its size, and its own ``make test`` (lint, format, its tests through the real plugin process
  and the local front), which is all of it.
"""

import datetime
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from devkit.scaffold.rename import Current, Identity, name_replacements, set_top_level, text_files
from tests import declarations

ROOT = Path(__file__).resolve().parents[2]
NAME, AUTHOR, LABEL = "acme_greeter", "acme", "Acme Greeter"
OLD_NAME = declarations.manifest()["name"]
OLD_LABEL = declarations.manifest()["label"]["en_US"]
COPY_IGNORES = (".git", ".venv", "venv", "dist", "test-output", "__pycache__", ".pytest_cache", ".ruff_cache")
NOT_RERUN = ("tests/fuzz/", "tests/browser/", "tests/devkit/packaging/", "tests/devkit/test_scaffold.py")
"""Tests that follow the declarations but are not run in a copy: generated requests and the browser take minutes
and check the relay's routes only; the package is built in the copy instead of re-running its tests."""
CHECK_TIMEOUT = 600
"""Seconds for a copy's checks, well under a minute on two cores: only a hung run should meet it."""
MINIMAL_FILES, MINIMAL_LINES = 30, 2000
"""What the minimal copy may weigh, its added endpoint and setting included."""

ENDPOINT_SOURCE = '''"""``GET /scaffold-check``: answers with the ``scaffold_check_word`` setting."""

import json
from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class ScaffoldCheckEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        body = json.dumps({"word": settings.get("scaffold_check_word") or "checked"})
        return Response(body, status=200, content_type="application/json")
'''
ENDPOINT_DECLARATION = (
    'path: "/scaffold-check"\nmethod: "GET"\nextra:\n  python:\n    source: "endpoints/scaffold_check.py"\n'
)
SETTING = {"name": "scaffold_check_word", "type": "text-input", "required": False, "label": {"en_US": "Check word"}}


def copy_repository(target: Path) -> Path:
    """The repository's files without tool folders: what ``git ls-files`` lists, tracked or new, when git can."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*COPY_IGNORES))
        return target
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if source.is_file():  # a tracked file someone just deleted is not part of the copy
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    return target


def in_copy(copy: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """This interpreter (the project's virtualenv) running ``args`` with the copy as working directory."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "PYTHONPATH"))}
    return subprocess.run(
        [sys.executable, *args], cwd=copy, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def add_endpoint_and_setting(copy: Path) -> None:
    """The README's steps: an endpoint file with one Endpoint subclass, its YAML listed in the group, a setting."""
    # The same plain endpoint in both copies: the relay's rules (key, allowed_apps) hold for the relay's routes.
    (copy / "endpoints" / "scaffold_check.py").write_text(ENDPOINT_SOURCE, encoding="utf-8")
    (copy / "endpoints" / "scaffold_check_get.yaml").write_text(ENDPOINT_DECLARATION, encoding="utf-8")
    group_file = copy / f"group/{NAME}.yaml"
    group = yaml.safe_load(group_file.read_text(encoding="utf-8"))
    group["endpoints"].append("endpoints/scaffold_check_get.yaml")
    group.setdefault("settings", []).append(SETTING)
    group_file.write_text(yaml.safe_dump(group, allow_unicode=True, sort_keys=False), encoding="utf-8")


def scaffolded(tmp_path_factory: pytest.TempPathFactory, *options: str) -> "Scaffolded":
    copy = copy_repository(tmp_path_factory.mktemp("copy") / "plugin")
    spelled = {}
    for relative in text_files(copy):
        content = (copy / relative).read_text(encoding="utf-8")
        found = [old for old in spellings(OLD_NAME)[1:] if old in content]  # the spellings besides the name
        if found and relative != "CHANGELOG.md":
            spelled[relative] = found
    result = in_copy(copy, "-m", "devkit", "scaffold", "--name", NAME, "--author", AUTHOR, "--label", LABEL, *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return Scaffolded(copy, result, spelled)


def following_the_declarations(copy: Path) -> list[str]:
    """The copy's test files that read the plugin's declarations (``tests.declarations``), but ``NOT_RERUN``."""
    found = []
    for path in sorted((copy / "tests").rglob("test_*.py")):
        relative = path.relative_to(copy).as_posix()
        if "declarations" in path.read_text(encoding="utf-8") and not relative.startswith(NOT_RERUN):
            found.append(relative)
    return found


def own_checks(copy: Path, minimal: bool) -> list[subprocess.CompletedProcess]:
    """Lint and format, then the tests the copy's change can touch (see the module's docstring)."""
    lint = in_copy(copy, "-m", "ruff", "check", ".")
    formatted = in_copy(copy, "-m", "ruff", "format", "--check", ".")
    chosen = [] if minimal else following_the_declarations(copy)
    tests = in_copy(copy, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *chosen, timeout=CHECK_TIMEOUT)
    checks = [lint, formatted, tests]
    if not minimal:
        checks.append(in_copy(copy, "-m", "devkit", "package", timeout=CHECK_TIMEOUT))
    return checks


@dataclass
class Scaffolded:
    copy: Path
    scaffold: subprocess.CompletedProcess
    spelled: dict[str, list[str]]
    """Before the command: each text file that wrote the old name, and in which of its spellings."""
    checks: list[subprocess.CompletedProcess] = field(default_factory=list)
    """The copy's own checks, once an endpoint and a setting were added."""


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> dict[str, Scaffolded]:
    """Both kinds of copy, renamed, then extended as the README says; their own checks run side by side."""
    made = {
        "renamed": scaffolded(tmp_path_factory),
        "minimal": scaffolded(tmp_path_factory, "--minimal"),
    }
    for made_copy in made.values():
        add_endpoint_and_setting(made_copy.copy)
    with ThreadPoolExecutor(max_workers=2) as pool:
        running = {kind: pool.submit(own_checks, made[kind].copy, kind == "minimal") for kind in made}
        for kind, future in running.items():
            made[kind].checks = future.result()
    return made


def manifest_of(copy: Path) -> dict:
    return yaml.safe_load((copy / "manifest.yaml").read_text(encoding="utf-8"))


def assert_renamed(copy: Path) -> None:
    manifest = manifest_of(copy)
    assert (manifest["name"], manifest["author"]) == (NAME, AUTHOR)
    assert set(manifest["label"].values()) == {LABEL} and "en_US" in manifest["label"]
    created = manifest["created_at"]
    assert datetime.datetime.now(datetime.UTC) - created < datetime.timedelta(minutes=10)
    assert manifest["plugins"]["endpoints"] == [f"group/{NAME}.yaml"]
    assert sorted(path.name for path in (copy / "group").iterdir()) == [f"{NAME}.yaml"]
    old = [*spellings(OLD_NAME), OLD_LABEL]
    still_named = [
        relative for relative in text_files(copy) if relative != "CHANGELOG.md" and named(copy, relative, old)
    ]
    assert still_named == []


def spellings(name: str) -> list[str]:
    """The ways a plugin's name is written in it: as is, as an environment variable's prefix, hyphenated."""
    return list(dict.fromkeys([name, name.upper().replace("-", "_"), name.replace("_", "-")]))


def named(folder: Path, relative: str, texts: list[str]) -> bool:
    content = (folder / relative).read_text(encoding="utf-8")
    return any(text in content for text in texts)


def assert_passed(checks: list[subprocess.CompletedProcess]) -> None:
    for check in checks:
        assert check.returncode == 0, f"{check.args[1:]}: " + check.stdout[-6000:] + check.stderr[-2000:]
    tests = checks[2]
    assert " passed" in tests.stdout and "skipped" not in tests.stdout


def test_the_renamed_copy_names_the_new_plugin_everywhere_and_says_what_comes_next(copies):
    copy, result = copies["renamed"].copy, copies["renamed"].scaffold
    assert_renamed(copy)
    assert f"{NAME}-{manifest_of(copy)['version']}.difypkg can be built" in result.stdout
    assert "Next:" in result.stdout and "make test" in result.stdout
    assert f"dist/{NAME}-<version>.difypkg" in (copy / "README.md").read_text(encoding="utf-8")
    # The plugin's code stays: every endpoint source it had, and no file removed.
    assert all((copy / route.source).is_file() for route in declarations.routes())
    assert "removed" not in result.stdout


def test_every_spelling_of_the_name_is_renamed_where_the_repository_has_it(copies):
    """The upper-case spelling (the prefix of the plugin's environment variables) is renamed alike in the code
    that reads a variable, the tests that set it and the README that documents it; the hyphenated one too."""
    renamed = copies["renamed"]
    assert renamed.spelled  # this repository writes its name in more than one way
    for relative, old_spellings in renamed.spelled.items():
        for old, new in zip(spellings(OLD_NAME), spellings(NAME), strict=True):
            if old in old_spellings:
                assert named(renamed.copy, relative, [new]), f"{relative}: {old} was not renamed {new}"


def renamed_text(text: str, old: str, new: str) -> str:
    current = Current(old, {"en_US": "Old Label"}, f"group/{old}.yaml")
    for pattern, replacement in name_replacements(current, Identity(new, "me", "New Label")):
        text = pattern.sub(replacement, text)
    return text


def test_each_spelling_is_renamed_as_a_whole_word_or_a_prefix():
    text = (
        "DATA_PUMP_KEEPALIVE_SECONDS=15 data-pump-bench- dist/data_pump-0.1.0.difypkg group/data_pump.yaml "
        "DATA_PUMPS MY_DATA_PUMP_X data-pumped not_data_pump Old Label"
    )
    assert renamed_text(text, "data_pump", "my-plugin") == (
        "MY_PLUGIN_KEEPALIVE_SECONDS=15 my-plugin-bench- dist/my-plugin-0.1.0.difypkg group/my-plugin.yaml "
        "DATA_PUMPS MY_DATA_PUMP_X data-pumped not_data_pump New Label"
    )


def test_a_one_word_name_in_capitals_is_left_alone():
    """``DEMO_APPS`` is the devkit's, not a plugin called ``demo``'s: only names of several words get the
    upper-case and hyphenated spellings."""
    assert renamed_text("DEMO_APPS demo-x group/demo.yaml", "demo", "acme_greeter") == (
        "DEMO_APPS acme_greeter-x group/acme_greeter.yaml"
    )


def test_the_renamed_copy_with_an_endpoint_and_a_setting_passes_the_tests_of_its_declarations(copies):
    checks = copies["renamed"].checks
    assert_passed(checks)
    assert "test_plugin_declaration.py" in " ".join(checks[2].args)  # the routes and settings, the new ones too
    assert f"dist/{NAME}-{manifest_of(copies['renamed'].copy)['version']}.difypkg" in checks[3].stdout


def test_the_minimal_copy_is_one_example_endpoint_without_the_relay(copies):
    copy, result = copies["minimal"].copy, copies["minimal"].scaffold
    assert_renamed(copy)
    assert sorted(path.name for path in (copy / "relay").iterdir()) == ["__init__.py", "platform"]  # SDK fixes
    assert sorted(path.name for path in (copy / "endpoints").iterdir()) == [
        "hello.py",
        "hello_get.yaml",
        "scaffold_check.py",
        "scaffold_check_get.yaml",
    ]
    assert manifest_of(copy)["version"] == "0.1.0"
    assert set(manifest_of(copy)["resource"]["permission"]) == {"endpoint"}  # it calls no app, keeps nothing
    assert "requirements-tools.txt" not in (copy / "Makefile").read_text(encoding="utf-8")
    assert "relay" not in result.stdout.split("Next:")[1]  # nothing to say about a relay that is gone
    removed = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("  removed  ")]
    written = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("  wrote    ")]
    assert "relay/core/" in removed and "devkit/daemon/" in removed and "endpoints/hello.py" in written
    # What was removed is gone, unless the example was written there afresh (endpoints/).
    assert not [p for p in removed if (copy / p).exists() and not any(w.startswith(p) for w in written)]


def test_the_minimal_copy_is_light(copies):
    caches = {"__pycache__", ".ruff_cache", ".pytest_cache"}  # made by its checks, ignored by its .gitignore
    files = [p for p in copies["minimal"].copy.rglob("*") if p.is_file() and not caches & set(p.parts)]
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    assert len(files) <= MINIMAL_FILES and lines <= MINIMAL_LINES, (len(files), lines)


def test_the_minimal_copy_with_an_endpoint_and_a_setting_passes_its_own_tests(copies):
    assert_passed(copies["minimal"].checks)


def test_a_name_the_daemon_would_refuse_is_refused_before_anything_changes(tmp_path):
    shutil.copy2(ROOT / "manifest.yaml", tmp_path / "manifest.yaml")
    before = (tmp_path / "manifest.yaml").read_bytes()
    result = in_copy(
        ROOT, "-m", "devkit", "scaffold", "--name", "My Plugin", "--author", "Me", "--plugin-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "error: NAME 'My Plugin'" in result.stderr and "error: AUTHOR 'Me'" in result.stderr
    assert "make scaffold NAME=" in result.stderr
    assert (tmp_path / "manifest.yaml").read_bytes() == before


def test_set_top_level_replaces_a_key_with_its_block_and_keeps_everything_else():
    text = "# comment\nname: old\nlabel:\n  en_US: Old\n  ja_JP: Old\nplugins:\n  endpoints:\n    - g.yaml\n"
    assert set_top_level(text, "label", '\n  en_US: "New"') == (
        '# comment\nname: old\nlabel:\n  en_US: "New"\nplugins:\n  endpoints:\n    - g.yaml\n'
    )
    assert set_top_level(text, "name", "new").startswith("# comment\nname: new\nlabel:\n")
    assert set_top_level("a: 1", "created_at", "2026-01-01T00:00:00Z") == "a: 1\ncreated_at: 2026-01-01T00:00:00Z\n"
