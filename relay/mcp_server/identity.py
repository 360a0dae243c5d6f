"""Who this server says it is (``serverInfo``): the plugin's name, label and version, read from its manifest.

Read once, at import: the manifest ships with the plugin, next to the ``relay`` package, and a release changes
only its ``version``, so the server never names a version other than the one installed. A manifest that cannot be
read costs nothing but accuracy: the server then calls itself by its default name and an unknown version.
"""

import logging
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"
DEFAULT_NAME = "app_relay"
DEFAULT_TITLE = "App Relay"
UNKNOWN_VERSION = "unknown"


def server_info(manifest: Path = MANIFEST) -> dict[str, str]:
    """``{"name", "title", "version"}`` as the manifest gives them."""
    fields = _read(manifest)
    label = fields.get("label")
    title = label.get("en_US") if isinstance(label, dict) else None
    return {
        "name": _text(fields.get("name")) or DEFAULT_NAME,
        "title": _text(title) or DEFAULT_TITLE,
        "version": _text(fields.get("version")) or UNKNOWN_VERSION,
    }


def _read(manifest: Path) -> dict[str, Any]:
    try:
        fields = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        logger.warning("the MCP server could not read %s for its name and version: %s", manifest.name, exc)
        return {}
    return fields if isinstance(fields, dict) else {}


def _text(value: Any) -> str | None:
    """A manifest value as a short string: YAML may read a version such as ``1.0`` as a number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text[:64] or None


SERVER_INFO = server_info()
