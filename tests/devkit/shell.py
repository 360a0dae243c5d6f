"""Run the shell commands a person is told to run (README examples, ``make run``'s curl lines) against the plugin
served by the devkit, and judge what they print the way that person would: did it work?"""

import json
import re
import shlex
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_STATUS = re.compile(r'^"[A-Z]+ [^"]*" (\d{3}) \(')


@dataclass
class Outcome:
    command: str
    returncode: int
    body: bytes
    stderr: str
    statuses: list[int]
    """The HTTP statuses the server logged for the command's requests."""


def run(command: str, *, env: Mapping[str, str], cwd: Path, console: list[str], timeout: float = 60) -> Outcome:
    """``bash -c command``; the body is what curl printed, or the file it wrote with ``-o``."""
    logged = len(console)
    result = subprocess.run(
        ["bash", "-c", command], env=dict(env), cwd=cwd, capture_output=True, timeout=timeout, check=False
    )
    words = shlex.split(command, comments=True)
    body = result.stdout
    for option in ("-o", "--output"):
        if option in words:
            body = (cwd / words[words.index(option) + 1]).read_bytes()
    # The server logs a request once its answer is complete, a moment after the client has read it.
    deadline = time.monotonic() + 5
    while len(console) == logged and time.monotonic() < deadline:
        time.sleep(0.01)
    statuses = [int(match.group(1)) for line in console[logged:] if (match := _STATUS.match(line))]
    return Outcome(command, result.returncode, body, result.stderr.decode("utf-8", "replace"), statuses)


def error_in(body: bytes) -> str | None:
    """What in ``body`` says the call failed (an error document, an error event, an error page), or None."""
    text = body.decode("utf-8", "replace")
    if not text.strip():
        return "an empty body"
    if 'role="alert"' in text:
        return "an html page with an error block"
    if "Failed to dispatch endpoint request" in text:
        return "the SDK found no endpoint for the path"
    candidates = [text, *(line.strip().removeprefix("data:").strip() for line in text.splitlines())]
    for candidate in candidates:
        if not candidate.startswith("{"):
            continue
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        data = value.get("data")
        if (
            isinstance(value.get("error"), dict)
            or value.get("event") == "error"
            or value.get("code") == -500
            or (isinstance(data, dict) and data.get("status") == "failed")
        ):
            return candidate[:500]
    return None


def assert_worked(outcome: Outcome) -> None:
    where = f"{outcome.command}\n{outcome.stderr}\n{outcome.body[:2000]!r}"
    assert outcome.returncode == 0, where
    assert outcome.statuses and all(status < 400 for status in outcome.statuses), f"{outcome.statuses}: {where}"
    assert error_in(outcome.body) is None, f"{error_in(outcome.body)}: {where}"
