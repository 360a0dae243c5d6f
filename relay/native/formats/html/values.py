"""Reading event values for the page: defensively, since Dify (or anything in its place) may send any type."""

import json
import math
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from relay.native.formats.markdown import render_markdown


def data_of(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def title_of(data: dict[str, Any]) -> str:
    return str(data.get("title") or data.get("node_id") or "node")


def number_of(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def css_word(value: Any) -> str:
    """A status such as ``succeeded`` doubles as a CSS class: keep it to plain word characters."""
    return "".join(ch for ch in str(value) if ch.isalnum() or ch in "-_") or "unknown"


def readable(value: Any) -> str:
    if value in (None, "", {}, []):
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def output_html(value: Any) -> Markup:
    """An output on the page: text as markdown (apps write it), files as links, other values as indented JSON."""
    if isinstance(value, str):
        return render_markdown(value)
    files = value if isinstance(value, list) else [value]
    if files and all(_is_file(item) for item in files):
        links = [
            Markup('<a href="{}" rel="noreferrer noopener" target="_blank">{}</a>').format(
                safe_url(item.get("url")), item.get("filename") or item.get("type") or "file"
            )
            if safe_url(item.get("url"))
            else Markup("{}").format(item.get("filename") or "file")
            for item in files
        ]
        return Markup(" ").join(links)
    return Markup("<pre>{}</pre>").format(json.dumps(value, ensure_ascii=False, indent=2))


def _is_file(value: Any) -> bool:
    """A file as Dify writes one into outputs (``dify_model_identity`` is ``__dify__file__``)."""
    return isinstance(value, dict) and (
        value.get("dify_model_identity") == "__dify__file__" or ("url" in value and "filename" in value)
    )


def safe_url(value: Any) -> str:
    """Only http(s) and same-site links, as a browser will read them: a ``javascript:`` URL would survive escaping.

    The URL standard drops leading and trailing C0 controls and spaces and every tab and newline inside a URL
    before parsing it, so the check looks at that cleaned text (and returns it): a slash, a tab, a slash and a
    host is ``//host`` to a browser. ``//host`` and ``/\\host`` look site-relative but browsers read both as
    another host.
    """
    if not isinstance(value, str):
        return ""
    cleaned = _as_browsers_read(value)
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return cleaned
    same_site = not parts.scheme and not parts.netloc and cleaned.startswith("/") and cleaned[1:2] not in ("/", "\\")
    return cleaned if same_site else ""


_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")


def _as_browsers_read(url: str) -> str:
    """The URL standard's first steps: strip C0 controls and spaces at both ends, remove tabs and newlines."""
    return url.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
