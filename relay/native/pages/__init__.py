"""HTML templates and the one Jinja environment that renders them, with autoescaping always on.

The stylesheet is inlined (a page must load nothing from elsewhere) and allowed by its hash in the
Content-Security-Policy, so no ``unsafe-inline`` is ever needed.
"""

import base64
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, Template
from markupsafe import Markup

from relay.native.pages.i18n import HTML_LANG, translator

PAGES_DIR = Path(__file__).parent

environment = Environment(
    loader=FileSystemLoader(PAGES_DIR),
    autoescape=True,
    keep_trailing_newline=True,
)

MAX_TRACKED_NODES = 256
"""Node runs whose "running" row a later "finished" row can hide; past this, both rows stay (see style.css)."""


def _node_progress_rules() -> str:
    # One rule per node run: once its finished row is on the page, its running row goes. Static, so the
    # stylesheet keeps its hash and the page needs no script.
    return "\n".join(f"main:has(.done-{i}) .run-{i}{{display:none}}" for i in range(MAX_TRACKED_NODES))


STYLESHEET = (PAGES_DIR / "style.css").read_text(encoding="utf-8") + _node_progress_rules() + "\n"


def _source_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src {_source_hash(STYLESHEET)}",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
"""Nothing external, no inline script, no image (the pages show none: an image in an answer becomes a link), only
this exact stylesheet, forms only back to this site, and no framing by other pages."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def app_title(app_name: str | None, app_id: str) -> str:
    """How a page names the app: its name when the endpoint's ``allowed_apps`` gives one, else its short id."""
    return app_name or app_id.split("-", 1)[0]


def page_title(app_name: str | None, app_id: str, kind_label: str) -> str:
    """The browser tab's text: the app first (what a person looks for among tabs), then its kind, translated."""
    return f"{app_title(app_name, app_id)} · {kind_label}"


@cache
def template(name: str) -> Template:
    return environment.get_template(name)


@cache
def fragments(language: str = "en") -> Any:
    """The macros of ``fragments.html`` in ``language``, callable from Python; each returns escaped ``Markup``."""
    return template("fragments.html").make_module({"t": translator(language)})


def render_page(name: str, language: str = "en", **context: Any) -> str:
    # The stylesheet is our own static file, and the CSP hash must match its exact text.
    return template(name).render(
        css=Markup(STYLESHEET),  # noqa: S704
        t=translator(language),
        lang=HTML_LANG.get(language, "en"),
        macros=fragments(language),
        **context,
    )
