"""Headless Chromium driving the plugin served by the local daemon.

Which Chromium: ``tests.browser.chromium.find_chromium`` (``CHROMIUM``, the ``PATH``, the usual places, Playwright's own
download). Without one, or without Playwright, these tests are skipped with a note on how to get it, and the rest
of the suite runs; under ``CI=true`` a missing browser or Playwright fails them (``.ci/run`` installs both).

Screenshots go to test-output/browser/. The two the README shows are written to _assets/screenshots/ only when
``APP_RELAY_UPDATE_SCREENSHOTS=1``, so that a test run never changes the repository by accident.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.demo.apps import DEMO_SETTINGS, DemoApps
from devkit.serve import create_server
from tests.browser.chromium import find_chromium, in_ci, missing_chromium

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "browser"
README_SCREENSHOTS = ROOT / "_assets" / "screenshots"
"""Where the README's screenshots live: Dify's plugin pages show a README's images only from _assets/."""
UPDATE_SCREENSHOTS = "APP_RELAY_UPDATE_SCREENSHOTS"
MISSING_PLAYWRIGHT = (
    "Playwright (the Python package that drives Chromium) is not installed: "
    "`.venv/bin/pip install -r requirements-tools.txt` installs it."
)
MISSING_AXE = (
    "axe-core (its axe.min.js comes with the Python package axe-playwright-python) is not installed: "
    "`.venv/bin/pip install -r requirements-tools.txt` installs it."
)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TOKEN_DELAY = 0.06
"""Slow enough that a person, and this test, sees the answer grow."""


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    """The real plugin behind the local daemon, with demo apps, on a free loopback port."""
    server = create_server(
        ROOT,
        DemoApps(token_delay=TOKEN_DELAY),
        settings=DEMO_SETTINGS,
        console=lambda line: None,
        plugin_log=lambda line: None,
    )
    server.serve_in_background()
    try:
        yield server.endpoint_url
    finally:
        server.close()


_skipped_for: set[str] = set()
"""Why the browser tests were skipped (the advice is printed once, in ``pytest_terminal_summary``)."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for advice in sorted(_skipped_for):
        terminalreporter.write_sep("=", "browser tests skipped", yellow=True)
        terminalreporter.write_line(advice)


def playwright_api() -> Any:
    """``playwright.sync_api``; without it, a skip with advice, or under CI a failure."""
    try:
        from playwright import sync_api
    except ImportError:
        if in_ci():
            pytest.fail(MISSING_PLAYWRIGHT)
        _skipped_for.add(MISSING_PLAYWRIGHT)
        pytest.skip("no Playwright, browser test skipped: see 'browser tests skipped' above for how to get it")
    return sync_api


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's ``axe.min.js``, as the pinned ``axe-playwright-python`` bundles it: nothing is fetched at test time.
    Without it, a skip with advice, or under CI a failure, as for Playwright."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        if in_ci():
            pytest.fail(MISSING_AXE)
        _skipped_for.add(MISSING_AXE)
        pytest.skip("no axe-core, accessibility test skipped: see 'browser tests skipped' above for how to get it")
    return Axe().axe_script


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = playwright_api()
    with sync_api.sync_playwright() as playwright:
        chromium = find_chromium(playwright_executable=lambda: playwright.chromium.executable_path)
        if chromium is None:
            if in_ci():
                pytest.fail(missing_chromium())
            _skipped_for.add(missing_chromium())
            pytest.skip("no Chromium, browser test skipped: see 'browser tests skipped' above for how to get one")
        browser = playwright.chromium.launch(executable_path=chromium.executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 900, "height": 1100})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


def save_readme_screenshot(page: Any, name: str) -> None:
    """Refresh one of the README's screenshots, when asked to (``APP_RELAY_UPDATE_SCREENSHOTS=1``)."""
    if os.environ.get(UPDATE_SCREENSHOTS, "").strip() != "1":
        return
    README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(README_SCREENSHOTS / f"{name}.png"), full_page=True)
