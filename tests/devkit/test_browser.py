"""Which Chromium the browser tests use, and what someone without one is told."""

from tests.browser.chromium import CHROMIUM_ENV, PLACES, Chromium, find_chromium, in_ci, missing_chromium


def nothing(_: str) -> None:
    return None


def test_chromium_names_the_one_to_use_and_only_that_one():
    env = {CHROMIUM_ENV: "/opt/chromium/chrome"}
    assert find_chromium(env, which=lambda _: "/usr/bin/chromium", exists=lambda path: True) == Chromium(
        "/opt/chromium/chrome", CHROMIUM_ENV
    )
    assert find_chromium(env, which=lambda _: "/usr/bin/chromium", exists=lambda path: False) is None
    assert f"{CHROMIUM_ENV}=/opt/chromium/chrome names no file" in missing_chromium(env)


def test_then_the_path_then_the_usual_places_then_playwrights_own_download(tmp_path):
    on_path = {"chromium-browser": "/usr/bin/chromium-browser"}
    assert find_chromium({}, which=on_path.get, exists=lambda _: False).executable == "/usr/bin/chromium-browser"
    mac = PLACES[0]
    assert find_chromium({}, which=nothing, exists=lambda path: path == mac).executable == mac
    downloaded = str(tmp_path / "ms-playwright" / "chromium-1" / "chrome-linux" / "chrome")  # never read: a name
    found = find_chromium(
        {}, which=nothing, exists=lambda path: path == downloaded, playwright_executable=lambda: downloaded
    )
    assert found == Chromium(None, "Playwright's own download")  # Playwright launches its own by itself


def test_nothing_found_when_playwright_has_not_downloaded_one_either():
    def not_downloaded() -> str:
        raise RuntimeError("Executable doesn't exist")

    assert find_chromium({}, which=nothing, exists=lambda _: False, playwright_executable=not_downloaded) is None


def test_the_advice_names_each_way_to_get_one():
    advice = missing_chromium({})
    assert advice.startswith("no Chromium found")
    for way in (
        "sudo apt-get install chromium",
        "brew install --cask chromium",
        ".venv/bin/python -m playwright install chromium",
        f"{CHROMIUM_ENV}=/path/to/chromium",
        "with CI=true this is a failure",
    ):
        assert way in advice


def test_ci_is_ci_true():
    assert in_ci({"CI": "true"}) and in_ci({"CI": "1"})
    assert not in_ci({}) and not in_ci({"CI": "false"})
