"""``make test`` without a Chromium, or without Playwright: outside CI the browser tests are skipped, saying how to
get what is missing, and the summary says so; under ``CI=true`` they fail. (``make scaffold MINIMAL=1`` removes this
file with the browser tests.)"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_BROWSER_TEST = "tests/browser/test_streaming_pages.py::test_api_key_page_leads_to_the_form_without_a_key_in_any_url"


def run_one_browser_test(**environment: str) -> subprocess.CompletedProcess[str]:
    """One browser test in a pytest of its own, in this environment (``CI`` and ``PYTEST_ADDOPTS`` not inherited)."""
    kept = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", ONE_BROWSER_TEST],
        cwd=ROOT,
        env=kept | environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_without_chromium(**extra: str) -> subprocess.CompletedProcess[str]:
    return run_one_browser_test(CHROMIUM=str(ROOT / "test-output" / "no-such-chromium"), **extra)


def run_without_playwright(hidden: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    # A package named playwright that fails to import stands first on the path: as if it were not installed.
    (hidden / "playwright").mkdir()
    (hidden / "playwright" / "__init__.py").write_text('raise ImportError("no playwright here")\n')
    return run_one_browser_test(PYTHONPATH=str(hidden), **extra)


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


def test_outside_ci_a_missing_playwright_skips_with_advice(tmp_path):
    result = run_without_playwright(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "pip install -r requirements-tools.txt" in result.stdout[result.stdout.index(" browser tests skipped ") :]


def test_under_ci_a_missing_playwright_is_a_failure(tmp_path):
    result = run_without_playwright(tmp_path, CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout or "1 failed" in result.stdout
    assert "Playwright (the Python package that drives Chromium) is not installed" in result.stdout
