"""Hypothesis profiles for the fuzz tests, and a count of the examples they ran.

``make test`` runs the ``bounded`` profile (a few hundred examples, so the fuzzers cannot rot); ``make fuzz``
runs ``fuzz`` (at least 10,000 in all) and prints the count. Every failure Hypothesis finds is kept as an
explicit regression test in tests/integration/test_hostile.py or tests/unit.
"""

import os
from collections import Counter

from hypothesis import HealthCheck, settings

EXAMPLES = Counter()
"""Examples run per fuzz test in this session."""
FINDINGS: dict[str, str] = {}
"""Figures worth printing at the end (the longest stdout line of each kind...)."""

_COMMON = {
    "deadline": None,  # an 8 MiB body takes its time; speed is make bench's business
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    "derandomize": False,
    "print_blob": True,
}
settings.register_profile("bounded", max_examples=150, **_COMMON)
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "8000")), **_COMMON)
settings.load_profile(os.environ.get("RELAY_FUZZ_PROFILE", "bounded"))


def pytest_terminal_summary(terminalreporter) -> None:
    if EXAMPLES:
        terminalreporter.write_sep("-", "fuzz examples run")
        for name, count in sorted(EXAMPLES.items()):
            terminalreporter.write_line(f"{count:>7}  {name}")
        terminalreporter.write_line(f"{sum(EXAMPLES.values()):>7}  in all")
    for name, value in FINDINGS.items():
        terminalreporter.write_line(f"{name}: {value}")
