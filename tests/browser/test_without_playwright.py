"""Without Playwright the browser tests say so: skipped with advice, or under ``CI=true`` failed."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_BROWSER_TEST = "tests/browser/test_streaming_pages.py::test_api_key_page_leads_to_the_form_without_a_key_in_any_url"


def run_without_playwright(hidden: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    # A package named playwright that fails to import stands first on the path: as if it were not installed.
    (hidden / "playwright").mkdir()
    (hidden / "playwright" / "__init__.py").write_text('raise ImportError("no playwright here")\n')
    environment = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    environment |= {"PYTHONPATH": str(hidden), **extra}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", ONE_BROWSER_TEST],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_outside_ci_a_missing_playwright_skips_with_advice(tmp_path):
    result = run_without_playwright(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "pip install -r requirements-dev.txt" in result.stdout[result.stdout.index(" browser tests skipped ") :]


def test_under_ci_a_missing_playwright_is_a_failure(tmp_path):
    result = run_without_playwright(tmp_path, CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout or "1 failed" in result.stdout
    assert "Playwright (the Python package that drives Chromium) is not installed" in result.stdout
