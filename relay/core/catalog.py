"""The apps an endpoint serves: its ``allowed_apps`` setting, read once per request, by id, name and type.

Each entry is ``<uuid>``, ``<name>=<uuid>`` or ``<type>:<name>=<uuid>`` (type ``chat``, ``workflow`` or
``completion``), separated by commas, spaces or new lines; ``*`` serves every app of the workspace by id. An
empty setting serves nothing: an endpoint is closed until its admin says which apps it opens.

A name works wherever an app id does (``/chat/support``). The type matters where no path says which kind of app
is called (a surface's models or tools); a typed app called through another type's path is refused,
naming its type. Nothing here calls Dify.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from relay.core.apps import KINDS, AppKind
from relay.core.errors import (
    RelayError,
    app_not_allowed,
    app_not_found,
    endpoint_misconfigured,
    endpoint_not_configured,
    shown,
)

APP_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
APP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
EVERY_APP = "*"
_SEPARATORS = re.compile(r"[\s,]+")
_ENTRY = re.compile(r"(?:(?P<type>[a-z]+):)?(?P<name>[^=:]+)=(?P<id>.+)")


@dataclass(frozen=True)
class App:
    """One app the endpoint serves."""

    app_id: str
    name: str | None = None
    kind: AppKind | None = None
    """The type its entry declares; ``None`` when the entry says none (then any path may call it)."""

    @property
    def label(self) -> str:
        """How pages and messages name it: its name when it has one."""
        return self.name or self.app_id


@dataclass(frozen=True)
class Catalog:
    apps: tuple[App, ...] = ()
    every_app: bool = False

    @classmethod
    def from_setting(cls, value: Any) -> "Catalog":
        """Parse ``allowed_apps``; raise ``endpoint_misconfigured`` naming the first entry that is not valid."""
        apps: list[App] = []
        every_app = False
        names: set[str] = set()
        for entry in _SEPARATORS.split(str(value or "")):
            if not entry:
                continue
            if entry == EVERY_APP:
                every_app = True
                continue
            app = _parse_entry(entry)
            if app.name is not None:
                if app.name in names:
                    raise endpoint_misconfigured(f"allowed_apps names {shown(app.name)} twice.")
                names.add(app.name)
            apps.append(app)
        return cls(tuple(apps), every_app)

    @property
    def configured(self) -> bool:
        return self.every_app or bool(self.apps)

    def named(self) -> Iterator[App]:
        """The apps that have a name, in the order the setting lists them."""
        return (app for app in self.apps if app.name is not None)

    def listed(self) -> tuple[App, ...]:
        """Every app the list names, by name or by id: what a surface may show (``*`` lists nothing more, as Dify
        gives a plugin no way to list a workspace's apps)."""
        return self.apps

    def find(self, reference: str) -> App:
        """The app an id or a name refers to, whatever its type (surfaces whose requests say no path)."""
        if not self.configured:
            raise endpoint_not_configured()
        return self._find(reference)

    def resolve(self, reference: str, kind: AppKind) -> App:
        """The app a path names (an id or a name), if this endpoint serves it through ``kind``'s path."""
        if not self.configured:
            raise endpoint_not_configured()
        app = self._find(reference)
        if app.kind is not None and app.kind is not kind:
            raise _wrong_path(app, app.kind, kind)
        return app

    def _find(self, reference: str) -> App:
        if APP_ID.fullmatch(reference):
            app_id = reference.lower()
            listed = next((app for app in self.apps if app.app_id == app_id), None)
            if listed is not None:
                return listed
            if self.every_app:
                return App(app_id)
            raise app_not_allowed(app_id)
        by_name = next((app for app in self.named() if app.name == reference), None)
        if by_name is not None:
            return by_name
        raise app_not_found(
            f"{shown(reference)} is neither a Dify app id (a UUID) nor the name of an app this endpoint serves."
        )


def _wrong_path(app: App, declared: AppKind, called: AppKind) -> RelayError:
    """A typed app called as another type: the error names the app's own type, for the surface to advise."""
    return RelayError(
        400,
        "invalid_request",
        f"{app.label} is a {declared.label}, not a {called.label}.",
        reason="wrong_app_type",
        app=app.label,
        app_kind=declared.name,
    )


def _parse_entry(entry: str) -> App:
    if APP_ID.fullmatch(entry):
        return App(entry.lower())
    match = _ENTRY.fullmatch(entry)
    if match is None:
        raise endpoint_misconfigured(
            f"allowed_apps entry {shown(entry)} is not <app id>, <name>=<app id> or <type>:<name>=<app id>."
        )
    kind = None
    if match["type"] is not None:
        kind = KINDS.get(match["type"])
        if kind is None:
            raise endpoint_misconfigured(
                f"allowed_apps entry {shown(entry)}: the type must be one of {', '.join(KINDS)}."
            )
    if not APP_NAME.fullmatch(match["name"]):
        raise endpoint_misconfigured(
            f"allowed_apps entry {shown(entry)}: a name is 1 to 64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit."
        )
    if APP_ID.fullmatch(match["name"]):
        # An id is looked up before a name, so this name could never be reached: refuse it rather than hide it.
        raise endpoint_misconfigured(
            f"allowed_apps entry {shown(entry)}: the name {shown(match['name'])} is an app id; a name must not be "
            "one, or the app id would shadow it."
        )
    if not APP_ID.fullmatch(match["id"]):
        raise endpoint_misconfigured(f"allowed_apps entry {shown(entry)}: {shown(match['id'])} is not an app id.")
    return App(match["id"].lower(), match["name"], kind)


def catalog_of(settings: Mapping[str, Any]) -> Catalog:
    return Catalog.from_setting(settings.get("allowed_apps"))
