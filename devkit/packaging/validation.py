"""Everything ``make package`` checks before it writes a byte, as one list of problems, never stopping early.

Order is for reading: size first (a stray ``.venv`` explains everything else), then the manifest and declaration
rules, Python syntax, and the SDK itself on a staged copy of exactly the packaged files.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from devkit.packaging.rules import Problem, check_plugin

# The daemon's default MAX_PLUGIN_PACKAGE_SIZE (internal/types/app/default.go) and the CLI's --max-size 50 (MB).
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
# Dify's API refuses uploads above PLUGIN_MAX_PACKAGE_SIZE, 15 MiB unless the admin raises it.
DIFY_UPLOAD_LIMIT_BYTES = 15 * 1024 * 1024
PACKAGE = "(package)"
# Read at import, then staged: `make scaffold ... MINIMAL=1` checks its result after removing the devkit it runs from.
_SDK_PROBE_SOURCE = Path(__file__).with_name("sdk_probe.py").read_bytes()
SDK_PROBE_TIMEOUT_SECONDS = 180


class PluginFiles(Mapping[str, bytes]):
    """The packaged files, read only when needed: the size rule must report a forgotten ``.venv`` without loading it."""

    def __init__(self, root: Path, paths: list[str]) -> None:
        self.root = root
        self._contents: dict[str, bytes | None] = dict.fromkeys(paths)

    def __getitem__(self, path: str) -> bytes:
        content = self._contents[path]  # a KeyError for a file that is not in the package
        if content is None:
            content = self._contents[path] = (self.root / path).read_bytes()
        return content

    def __iter__(self) -> Iterator[str]:
        return iter(self._contents)

    def __len__(self) -> int:
        return len(self._contents)

    def __contains__(self, path: object) -> bool:
        return path in self._contents  # Mapping's own would read the file

    def size(self, path: str) -> int:
        return (self.root / path).stat().st_size


def validate(files: PluginFiles, *, max_bytes: int = MAX_UNCOMPRESSED_BYTES, run_sdk: bool = True) -> list[Problem]:
    problems = size_problems(files, max_bytes)
    too_big = bool(problems)
    problems += check_plugin(files) + python_problems(files)
    if run_sdk and not too_big:
        problems += without_duplicates(sdk_problems(files), problems)
    return problems


def without_duplicates(sdk: list[Problem], static: list[Problem]) -> list[Problem]:
    """Drop SDK findings on a field the static rules reported, or one within the other (``meta``, ``meta.arch``)."""
    reported = [(p.file, p.field + ".") for p in static if p.field]

    def overlaps(problem: Problem) -> bool:
        field = f"{problem.field}."
        return any(problem.file == file and (field.startswith(f) or f.startswith(field)) for file, f in reported)

    return [problem for problem in sdk if not (problem.field and overlaps(problem))]


def size_problems(files: PluginFiles, max_bytes: int) -> list[Problem]:
    """The daemon refuses a package whose entries add up to more than ``max_bytes`` uncompressed."""
    sizes = {path: files.size(path) for path in files}
    total = sum(sizes.values())
    if total <= max_bytes:
        return []
    largest = ", ".join(f"{path} ({sizes[path]} bytes)" for path in sorted(sizes, key=sizes.get, reverse=True)[:5])
    message = (
        f"{total} bytes uncompressed, the daemon accepts at most {max_bytes}; largest files: {largest} "
        "(exclude what the plugin does not need in .difyignore)"
    )
    return [Problem(PACKAGE, message)]


def upload_size_warning(package_bytes: int) -> list[Problem]:
    """Over 15 MiB the package installs only where the admin raised PLUGIN_MAX_PACKAGE_SIZE: worth a warning."""
    if package_bytes <= DIFY_UPLOAD_LIMIT_BYTES:
        return []
    message = (
        f"the package is {package_bytes} bytes; Dify refuses uploads over {DIFY_UPLOAD_LIMIT_BYTES} bytes "
        "unless PLUGIN_MAX_PACKAGE_SIZE is raised"
    )
    return [Problem(PACKAGE, message, severity="warning")]


def python_problems(files: Mapping[str, bytes]) -> list[Problem]:
    """Every packaged ``.py`` file must at least compile: the server is the worst place to find a syntax error."""
    found = []
    for path in [p for p in files if p.endswith(".py")]:
        try:
            compile(files[path], path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            where = f" (line {error.lineno})" if getattr(error, "lineno", None) else ""
            found.append(Problem(path, f"does not compile{where}: {getattr(error, 'msg', error)}"))
    return found


def sdk_problems(files: PluginFiles) -> list[Problem]:
    """SDK findings on a staged copy (``sdk_probe``): a module ``.difyignore`` leaves out fails as on the server."""
    with tempfile.TemporaryDirectory(prefix="difypkg-stage-") as staging:
        stage, result, probe = (Path(staging) / name for name in ("plugin", "sdk-findings.json", "sdk_probe.py"))
        for path in files:
            (stage / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files.root / path, stage / path)
        probe.write_bytes(_SDK_PROBE_SOURCE)
        command = [sys.executable, "-B", str(probe), str(result)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONDONTWRITEBYTECODE": "1"}
        try:
            completed = subprocess.run(
                command, cwd=stage, env=env, capture_output=True, text=True, timeout=SDK_PROBE_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            return [Problem(PACKAGE, f"loading the plugin with the SDK took over {SDK_PROBE_TIMEOUT_SECONDS} s")]
        if completed.returncode != 0 or not result.is_file():
            tail = " ".join(completed.stderr.strip().splitlines()[-1:]) or f"exit code {completed.returncode}"
            return [Problem(PACKAGE, f"loading the plugin with the SDK crashed: {tail}")]
        findings = json.loads(result.read_text(encoding="utf-8"))
    return [Problem(f["file"], f["message"], field=f.get("field")) for f in findings]
