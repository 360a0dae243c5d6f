"""``make test`` without a Chromium: outside CI the browser tests are skipped, saying how to get one, and the summary
says so; under ``CI=true`` they fail. (``make scaffold MINIMAL=1`` removes this file with the browser tests.)"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_BROWSER_TEST = "tests/browser/test_streaming_pages.py::test_api_key_page_leads_to_the_form_without_a_key_in_any_url"


def run_without_chromium(**extra: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    environment |= {"CHROMIUM": str(ROOT / "test-output" / "no-such-chromium"), **extra}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", ONE_BROWSER_TEST],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_outside_ci_the_browser_tests_are_skipped_and_the_summary_says_how_to_get_chromium():
    result = run_without_chromium()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    advice = result.stdout[result.stdout.index(" browser tests skipped ") :]
    assert "names no file, so the browser tests cannot run" in advice
    assert "sudo apt-get install chromium" in advice and "brew install --cask chromium" in advice
    summary = result.stdout[result.stdout.index("short test summary info") :]
    assert "SKIPPED [1] tests/browser/" in summary and "no Chromium, browser test skipped" in summary


def test_under_ci_a_missing_chromium_is_a_failure():
    result = run_without_chromium(CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout or "1 failed" in result.stdout
    assert "names no file, so the browser tests cannot run" in result.stdout
