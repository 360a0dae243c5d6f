"""The plugin's routes and settings as its own files declare them, so tests follow the plugin, not a copy of it.

Read the way the daemon reads them: ``manifest.yaml`` names the endpoint group file(s), each group lists its
settings and its endpoint files, each endpoint file one path and method.
"""

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Route:
    path: str
    """A werkzeug rule such as ``/chat/<app_id>``."""
    method: str
    source: str
    """The endpoint's Python file, relative to the plugin root."""
    file: str = ""
    """The endpoint declaration (YAML) this route comes from, relative to the plugin root."""
    hidden: bool = False
    """Kept out of Dify's endpoint list: a route for Dify itself (the files it fetches), not for people."""

    @property
    def relay_route(self) -> bool:
        """Whether the route is the relay's (its endpoint hands over to ``relay``): the relay's rules (the key, the
        app list) apply to those; an endpoint a copy of this plugin adds answers as its author decides."""
        return "import relay" in (ROOT / self.source).read_text(encoding="utf-8")

    @property
    def kind(self) -> str:
        """The first path segment (``chat``, ``workflow``...): which app type the route serves."""
        return self.path.strip("/").split("/", 1)[0]


def _yaml(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text(encoding="utf-8"))


@cache
def manifest() -> dict[str, Any]:
    return _yaml("manifest.yaml")


@cache
def group_files() -> tuple[str, ...]:
    """The endpoint group files the manifest lists (Dify uses one), relative to the plugin root."""
    return tuple(manifest()["plugins"]["endpoints"])


@cache
def groups() -> tuple[dict[str, Any], ...]:
    return tuple(_yaml(name) for name in group_files())


@cache
def routes() -> tuple[Route, ...]:
    found = []
    for group in groups():
        for name in group["endpoints"]:
            endpoint = _yaml(name)
            source = endpoint["extra"]["python"]["source"]
            found.append(Route(endpoint["path"], endpoint["method"], source, name, endpoint.get("hidden") is True))
    return tuple(found)


@cache
def settings() -> tuple[dict[str, Any], ...]:
    return tuple(setting for group in groups() for setting in group.get("settings", []))


def endpoint_classes(source: str) -> list[str]:
    """The classes a Python source defines on ``Endpoint`` (the SDK wants exactly one per endpoint file)."""
    tree = ast.parse((ROOT / source).read_bytes())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(getattr(base, "id", getattr(base, "attr", None)) == "Endpoint" for base in node.bases)
    ]
