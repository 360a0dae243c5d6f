"""Where the browser tests find a Chromium, and what to tell someone who has none.

In order: the one ``CHROMIUM`` names (and only that one, when set), ``chromium`` or ``chromium-browser`` on the
``PATH`` (Debian's and Ubuntu's packages), the usual install places on macOS (Homebrew's cask) and Linux, then
the Chromium Playwright downloads itself (``python -m playwright install chromium``). CI installs Debian's
(``.ci/run``); there a missing browser is a failure, elsewhere the browser tests are skipped with
``missing_chromium``'s advice.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ENV = "CHROMIUM"
NAMES = ("chromium", "chromium-browser")
PLACES = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    str(Path.home() / "Applications/Chromium.app/Contents/MacOS/Chromium"),
    "/usr/bin/chromium",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
)


@dataclass(frozen=True)
class Chromium:
    executable: str | None
    """The browser to launch; ``None`` for Playwright's own download (Playwright knows where it is)."""
    found_by: str


def find_chromium(
    env: Mapping[str, str] | None = None,
    *,
    which: Callable[[str], str | None] = shutil.which,
    exists: Callable[[str], bool] = os.path.isfile,
    playwright_executable: Callable[[], str | None] | None = None,
) -> Chromium | None:
    """The Chromium to run the browser tests with, or ``None``."""
    env = os.environ if env is None else env
    named = env.get(CHROMIUM_ENV, "").strip()
    if named:
        return Chromium(named, CHROMIUM_ENV) if exists(named) else None
    for name in NAMES:
        found = which(name)
        if found:
            return Chromium(found, "PATH")
    for place in PLACES:
        if exists(place):
            return Chromium(place, place)
    if playwright_executable is not None:
        try:
            downloaded = playwright_executable()
        except Exception:
            downloaded = None
        if downloaded and exists(downloaded):
            return Chromium(None, "Playwright's own download")
    return None


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """``CI=true`` (GitHub Actions and most CI services set it)."""
    env = os.environ if env is None else env
    return env.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_chromium(env: Mapping[str, str] | None = None) -> str:
    """Why there is no browser, and the ways to get one."""
    env = os.environ if env is None else env
    named = env.get(CHROMIUM_ENV, "").strip()
    why = f"{CHROMIUM_ENV}={named} names no file" if named else "no Chromium found"
    return (
        f"{why}, so the browser tests cannot run. Get one: Debian/Ubuntu `sudo apt-get install chromium` "
        "(`chromium-browser` on older Ubuntu); macOS with Homebrew `brew install --cask chromium`; or, where the "
        "network allows, Playwright's own: `.venv/bin/python -m playwright install chromium`. "
        f"Or point {CHROMIUM_ENV}=/path/to/chromium at one. Outside CI these tests are skipped; with CI=true this "
        "is a failure."
    )
