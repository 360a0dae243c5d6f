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

PAGES_DIR = Path(__file__).parent

environment = Environment(
    loader=FileSystemLoader(PAGES_DIR),
    autoescape=True,
    keep_trailing_newline=True,
)

STYLESHEET = (PAGES_DIR / "style.css").read_text(encoding="utf-8")


def _source_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src {_source_hash(STYLESHEET)}",
        "img-src data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
"""Nothing external, no inline script at all, only this exact stylesheet, and no framing by other pages."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@cache
def template(name: str) -> Template:
    return environment.get_template(name)


def fragments() -> Any:
    """The macros of ``fragments.html``, callable from Python; each returns escaped ``Markup``."""
    return template("fragments.html").module


def render_page(name: str, **context: Any) -> str:
    # The stylesheet is our own static file, and the CSP hash must match its exact text.
    return template(name).render(css=Markup(STYLESHEET), **context)  # noqa: S704
