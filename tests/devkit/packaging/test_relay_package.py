"""The relay from its package: every app type served by the unpacked plugin, its html pages rendered from the
templates the package carries, and the packaging rule that catches a ``.difyignore`` leaving the relay out.

``make scaffold MINIMAL=1`` removes this file with the relay.
"""

import ast
import json

import pytest

from devkit.demo.apps import DEMO_APPS, DEMO_SETTINGS
from devkit.packaging.package import build
from devkit.packaging.rules import errors
from tests import declarations

# The last event of a successful streamed run, per app mode (Dify's Service API shapes).
LAST_EVENT = {
    "chat": "message_end",
    "agent-chat": "message_end",
    "advanced-chat": "workflow_finished",  # measured: a chatflow's message_end comes before its workflow_finished
    "workflow": "workflow_finished",
    "completion": "message_end",
}


def sources_importing_the_relay() -> set[str]:
    found = set()
    for source in {route.source for route in declarations.routes()}:
        for node in ast.walk(ast.parse((declarations.ROOT / source).read_bytes())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
            if any(name == "relay" or name.startswith("relay.") for name in names):
                found.add(source)
    return found


@pytest.mark.parametrize("app", DEMO_APPS, ids=[app.mode for app in DEMO_APPS])
def test_it_serves_each_app_type_from_the_package(installed_plugin, app):
    fields: dict = {"inputs": dict(app.sample_inputs)}
    if app.sample_query:
        fields["query"] = app.sample_query
    response = installed_plugin.request(
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


def test_it_serves_the_html_page_whose_templates_come_from_the_package(installed_plugin):
    chat = next(app for app in DEMO_APPS if app.mode == "chat")
    response = installed_plugin.request("GET", f"/chat/{chat.slug}?format=html&query=hello", settings=DEMO_SETTINGS)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text()
    assert "<html" in page.lower() and "hello" in page.lower()


def test_a_difyignore_that_leaves_the_relay_out_fails_every_endpoint_that_imports_it(plugin_dir):
    with (plugin_dir / ".difyignore").open("a", encoding="utf-8") as ignore:
        ignore.write("\nrelay/\n")
    result = build(plugin_dir)
    found = errors(result.problems)
    assert result.archive is None
    assert {problem.file for problem in found} == sources_importing_the_relay(), "\n".join(map(str, found))
    assert all("No module named 'relay'" in problem.message for problem in found)
