"""The built ``.difypkg`` itself runs: unpacked as the daemon unpacks it, started over stdio, serving every app type.

This is the test that would catch a ``.difyignore`` that drops a template or a module the plugin imports lazily:
the plugin runs from the unpacked archive only, never from the repository.
"""

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.daemon.process import PluginProcess
from devkit.demo.apps import DEMO_APPS, DEMO_SETTINGS, DemoApps

# The last event of a successful streamed run, per app mode (Dify's Service API shapes).
LAST_EVENT = {
    "chat": "message_end",
    "agent-chat": "message_end",
    "advanced-chat": "message_end",
    "workflow": "workflow_finished",
    "completion": "message_end",
}


def unpack_like_the_daemon(package: Path, target: Path) -> None:
    """The daemon's ``ExtractTo``: every entry is a file; its directories are created from its path."""
    with zipfile.ZipFile(package) as archive:
        for info in archive.infolist():
            destination = (target / info.filename).resolve()
            assert destination.is_relative_to(target.resolve()), info.filename
            assert not info.is_dir(), f"directory entry {info.filename} would fail the daemon's decoder"
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.read(info))


@pytest.fixture(scope="module")
def unpacked(built_package, tmp_path_factory) -> Path:
    path, _ = built_package
    target = tmp_path_factory.mktemp("installed") / "plugin"
    unpack_like_the_daemon(path, target)
    return target


@pytest.fixture(scope="module")
def plugin(unpacked) -> Iterator[PluginProcess]:
    process = PluginProcess(unpacked, DemoApps(token_delay=0))
    process.start()
    yield process
    process.stop()


def test_the_unpacked_plugin_is_only_what_the_package_holds(unpacked, built_package):
    path, _ = built_package
    on_disk = sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file())
    with zipfile.ZipFile(path) as archive:
        assert [name for name in on_disk if "__pycache__" not in name] == sorted(archive.namelist())
    assert not (unpacked / "tests").exists() and not (unpacked / "devkit").exists()


def test_it_starts_and_announces_its_manifest(plugin):
    assert plugin.manifest is not None
    assert plugin.alive


@pytest.mark.parametrize("app", DEMO_APPS, ids=[app.mode for app in DEMO_APPS])
def test_it_serves_each_app_type_from_the_package(plugin, app):
    fields: dict = {"inputs": dict(app.sample_inputs)}
    if app.sample_query:
        fields["query"] = app.sample_query
    response = plugin.request(
        "POST",
        f"/{app.path}/{app.app_id}",
        headers={"Content-Type": "application/json"},
        body=json.dumps(fields).encode(),
        settings=DEMO_SETTINGS,
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-ndjson"
    events = [json.loads(line) for line in response.read().splitlines()]
    assert events, "no events"
    assert events[-1]["event"] == LAST_EVENT[app.mode]
    assert not [event for event in events if event.get("event") == "error"]


def test_it_serves_the_html_page_whose_templates_come_from_the_package(plugin):
    chat = next(app for app in DEMO_APPS if app.mode == "chat")
    response = plugin.request("GET", f"/chat/{chat.slug}?format=html&query=hello", settings=DEMO_SETTINGS)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text()
    assert "<html" in page.lower() and "hello" in page.lower()
