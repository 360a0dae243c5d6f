"""One finding of the package validator: which file, which rule, how bad.

Kept apart from the rules so that every checker (manifest rules, Python sources, the SDK probe, the size limit)
reports in the same shape and the command line can print them all, one line each, before deciding the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """A rule that a file breaks.

    ``field`` is the dotted manifest field the rule is about (``meta.arch``) when there is one: the SDK's own
    model often rejects the same field, and the validator uses it to print the daemon's clearer message only once.
    """

    file: str
    message: str
    severity: Severity = "error"
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.file}: {self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    """The problems that stop the build (warnings are printed but let it through)."""
    return [problem for problem in problems if problem.severity == "error"]
