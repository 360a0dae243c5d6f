"""``--minimal``: a small endpoint plugin, what an endpoint plugin needs to work well and nothing of the relay.

Only ``KEPT`` stays, so nothing added to this repository later can swell the copy: the manifest, ``main.py`` and its
SDK adjustments (``relay/platform``), the icons, the settings files, the runtime requirements minus the relay pages',
the pinned test tools, the slim local runner. Every file of ``template/`` comes (path without ``.tmpl``; ``group.yaml``
becomes the new group file): ``GET /hello``, a group with one setting, a test through the real plugin process, a
Makefile with ``make run`` and ``make test``, a CI script, README, PRIVACY and CHANGELOG.
"""

import re
from collections.abc import Callable
from pathlib import Path

from devkit.scaffold.rename import Changes, Identity, group_path

TEMPLATE = Path(__file__).with_name("template")
VERSION = "0.1.0"
DESCRIPTION = {
    "en_US": "A Dify endpoint plugin.",
    "zh_Hans": "一个 Dify 端点插件。",
    "ja_JP": "Dify のエンドポイントプラグインです。",
    "pt_BR": "Um plugin de endpoints para o Dify.",
}

KEPT = frozenset(
    {".git", ".venv"}  # left alone
    | {".gitignore", ".difyignore", ".python-version", ".env.example", "pyproject.toml"}  # settings
    | {"requirements.txt", "requirements-test.txt"}
    | {"manifest.yaml", "main.py", "_assets/icon.svg", "_assets/icon-dark.svg", "relay/platform"}  # the plugin
    | {"devkit/__init__.py", "devkit/plugin.py", "devkit/local.py"}  # the slim local runner
)
REQUIREMENTS_GONE = ("jinja2", "markupsafe", "markdown-it-py")  # only the relay's html pages use them


def strip_to_minimal(plugin_dir: Path, identity: Identity, changes: Changes) -> None:
    """Keep ``KEPT``, write the example; the manifest is left to ``rename`` (it points at the new group)."""
    values = {"name": identity.name, "label": identity.label, "author": identity.author, "version": VERSION}
    values["group"] = group_path(identity.name)
    written = {}  # read before anything goes: the templates live in this repository's devkit, which goes too
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        text = source.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        target = source.relative_to(TEMPLATE).as_posix().removesuffix(".tmpl")
        written[values["group"] if target == "group.yaml" else target] = text

    removed: list[str] = []
    for path in sorted(plugin_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):  # deepest first
        relative = path.relative_to(plugin_dir).as_posix()
        # Kept, or a folder on the way to something kept (removed later only if it ends up empty).
        if any(relative == kept or relative.startswith(kept + "/") or kept.startswith(relative + "/") for kept in KEPT):
            continue
        if path.is_dir() and not path.is_symlink():
            path.rmdir()  # emptied above: nothing in it was kept
            relative += "/"
        else:
            path.unlink()
        removed.append(relative)
    # Said once per top-most path that went: a folder, not each file in it.
    changes.removed += sorted(r for r in removed if not any(r != d and r.startswith(d) for d in removed))

    for target, text in written.items():
        path = plugin_dir / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changes.written.append(target)
    (plugin_dir / ".ci/run").chmod(0o755)

    _edit(plugin_dir, "manifest.yaml", _without_permissions, changes)
    _edit(plugin_dir, "requirements.txt", _without_requirements, changes)


def _edit(plugin_dir: Path, relative: str, change: Callable[[str], str], changes: Changes) -> None:
    path = plugin_dir / relative
    before = path.read_text(encoding="utf-8")
    after = change(before)
    if after != before:
        path.write_text(after, encoding="utf-8")
        changes.edited.append(relative)


def _without_permissions(text: str) -> str:
    """No ``storage`` and no ``app`` permission: the example keeps nothing and calls no app (the relay does both)."""
    for permission in ("storage", "app"):
        text = re.sub(rf"^(\s+){permission}:\n(?:\1\s+[^\n]*\n)+", "", text, flags=re.MULTILINE)
    return text


def _without_requirements(text: str) -> str:
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if re.split(r"[<>=~!\[ ;#]", line.strip(), maxsplit=1)[0].lower() not in REQUIREMENTS_GONE
    )
