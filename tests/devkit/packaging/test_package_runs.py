"""The built ``.difypkg`` itself runs: unpacked as the daemon unpacks it, started over stdio from the package only.

This is the test that would catch a ``.difyignore`` that drops a module the plugin imports: the plugin runs from
the unpacked archive only, never from the repository. What the relay serves from it is in
``test_relay_package.py``.
"""

import re
import zipfile

from tests import declarations


def test_the_unpacked_plugin_is_only_what_the_package_holds(unpacked, built_package):
    path, _ = built_package
    on_disk = sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file())
    with zipfile.ZipFile(path) as archive:
        assert [name for name in on_disk if "__pycache__" not in name] == sorted(archive.namelist())
    assert not (unpacked / "tests").exists() and not (unpacked / "devkit").exists()


def test_it_starts_and_announces_its_manifest(installed_plugin):
    assert installed_plugin.alive
    assert installed_plugin.manifest is not None
    manifest = declarations.manifest()
    assert (installed_plugin.manifest["name"], installed_plugin.manifest["author"]) == (
        manifest["name"],
        manifest["author"],
    )


def test_every_declared_route_reaches_the_plugin_code(installed_plugin):
    """Each path answers with something of its own: never the SDK's "Failed to dispatch" 404, never a crash."""
    for route in declarations.routes():
        path = re.sub(r"<[^>]+>", "1", route.path)  # /chat/<app_id> -> /chat/1
        response = installed_plugin.request(route.method, path)
        body = response.read()
        assert response.status < 500, (route, body[:300])
        assert b"Failed to dispatch endpoint request" not in body, route
