"""Headless Chromium (Debian's, at /usr/bin/chromium) driving the plugin served by the local daemon."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.demo.apps import DEMO_SETTINGS, DemoApps
from devkit.serve import create_server

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
