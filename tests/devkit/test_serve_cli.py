"""``python -m devkit serve``: what it prints on start and how it reads endpoint settings."""

import json
import shlex
from urllib.parse import parse_qs, urlsplit

import pytest

from devkit.demo.apps import DEMO_APPS, DEMO_SETTINGS, DemoApp
from devkit.serve import (
    ROOT,
    _app_url,
    _formats,
    _sample_url,
    default_settings,
    demo_curls,
    format_banner,
    load_settings,
    main,
)
from tests import declarations
from tests.devkit.conftest import ECHO_PLUGIN

ENDPOINT = "http://127.0.0.1:5002/e/0123456789abcdef0123456789abcdef"


def demo_links(endpoint_url: str, app: DemoApp, *, by_name: bool = True) -> dict[str, str]:
    """One URL per format for a demo app; the html one is the bare app URL, which opens the app's form."""
    base = _app_url(endpoint_url, app, by_name)
    return {"html": base} | {fmt: _sample_url(base, app, fmt) for fmt in _formats(app) if fmt != "html"}


def banner_lines(banner: str) -> list[str]:
    return banner.splitlines()


def curl_lines(banner: str) -> dict[str, str]:
    """The "<format>  curl ..." lines of the banner, by format."""
    found = {}
    for line in banner_lines(banner):
        words = line.split(maxsplit=1)
        if len(words) == 2 and words[1].startswith("curl "):
            found[words[0]] = words[1]
    return found


def test_the_banner_is_one_html_link_per_demo_app_then_one_curl_line_per_format():
    banner = format_banner(ENDPOINT, settings=DEMO_SETTINGS)
    assert len(banner_lines(banner)) <= 20
    assert ENDPOINT in banner
    for app in DEMO_APPS:
        html = demo_links(ENDPOINT, app)["html"]
        [line] = [line for line in banner_lines(banner) if line.endswith(html) and "curl" not in line]
        assert line.split()[:2] == [app.slug, app.mode]
    curls = curl_lines(banner)
    assert list(curls) == ["ndjson", "sse", "json", "html"]
    chatbot = next(app for app in DEMO_APPS if app.mode == "chat")
    assert curls == demo_curls(ENDPOINT, chatbot)
    for fmt, command in curls.items():
        words = shlex.split(command)
        assert words[0] == "curl" and ("-N" in words) == (fmt != "json")
        assert f"/{chatbot.path}/{chatbot.slug}" in words[-1]


def test_the_banner_says_why_the_agent_has_no_json():
    banner = format_banner(ENDPOINT, settings=DEMO_SETTINGS)
    assert "No json for the agent" in banner and "Dify refuses blocking mode for agent apps" in banner


def test_with_an_api_key_every_curl_line_sends_KEY_and_the_banner_names_the_setting_not_the_secret():
    banner = format_banner(ENDPOINT, settings={**DEMO_SETTINGS, "api_key": "secret-one, secret-two"})
    assert "secret" not in banner
    assert "api_key is set" in banner and "export KEY=" in banner
    curls = curl_lines(banner)
    assert curls
    for command in curls.values():
        assert '-H "Authorization: Bearer $KEY"' in command
        assert "Authorization: Bearer $KEY" in shlex.split(command)  # one word for the shell, expanded by it
    assert "$KEY" not in format_banner(ENDPOINT, settings=DEMO_SETTINGS)


def test_the_banner_links_by_id_when_the_endpoint_names_other_apps():
    banner = format_banner(ENDPOINT, settings={"allowed_apps": "*"})
    for app in DEMO_APPS:
        assert demo_links(ENDPOINT, app, by_name=False)["html"] in banner


def test_the_banner_follows_the_plugin_it_serves():
    """The echo plugin declares /chat/ but neither /workflow/ nor /completion/, and GET endpoints of its own."""
    banner = format_banner(ENDPOINT, plugin_dir=ECHO_PLUGIN, settings=DEMO_SETTINGS)
    assert banner.startswith("Echo, served as Dify's plugin daemon serves it")
    shown = {app.slug for app in DEMO_APPS if demo_links(ENDPOINT, app)["html"] in banner}
    assert shown == {app.slug for app in DEMO_APPS if app.path == "chat"}
    assert f"  curl {ENDPOINT}/log" in banner.splitlines()  # a plain GET: a line to try
    assert f"  GET  {ENDPOINT}/slow/<seconds>" in banner.splitlines()  # a path to fill in: shown, not a command
    assert f"  POST  {ENDPOINT}/app/<kind>/<app_id>" in banner.splitlines()
    assert f"  GET, POST, PUT, DELETE  {ENDPOINT}/echo/<path:rest>" in banner.splitlines()


@pytest.mark.parametrize("app", DEMO_APPS, ids=lambda app: app.mode)
def test_each_app_gets_one_link_per_format_and_a_bare_html_link(app):
    links = demo_links(ENDPOINT, app)
    base = f"{ENDPOINT}/{app.path}/{app.slug}"
    # json means a blocking call, which Dify's agent apps refuse: no link that can only fail.
    formats = ["html", "ndjson", "sse"] + ([] if app.mode == "agent-chat" else ["json"])
    assert list(links) == formats
    assert links["html"] == base
    for fmt in formats[1:]:
        parts = urlsplit(links[fmt])
        query = parse_qs(parts.query)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == base
        assert query["format"] == [fmt]
        if app.takes_query:
            assert query["query"] == [app.sample_query]
        else:
            assert "query" not in query
            assert any(name.startswith("inputs.") for name in query)


@pytest.mark.parametrize("app", DEMO_APPS, ids=lambda app: app.mode)
def test_the_curl_line_posts_the_sample_call(app):
    words = shlex.split(demo_curls(ENDPOINT, app)["ndjson"])
    assert words[:2] == ["curl", "-N"]
    assert words[-1] == f"{ENDPOINT}/{app.path}/{app.slug}"
    payload = json.loads(words[words.index("-d") + 1])
    assert payload.get("query") == app.sample_query
    assert payload.get("inputs", {}) == dict(app.sample_inputs)


def test_settings_are_the_demo_endpoints_then_a_file_then_pairs(tmp_path):
    assert load_settings(None, []) == DEMO_SETTINGS  # the demo apps by name: make run opens them
    as_json = tmp_path / "settings.json"
    as_json.write_text(json.dumps({"api_key": "from-file", "allowed_apps": "a"}))
    assert load_settings(as_json, ["api_key=from-flag", "cors_allowed_origins=*"]) == {
        "api_key": "from-flag",
        "allowed_apps": "a",
        "cors_allowed_origins": "*",
    }
    as_yaml = tmp_path / "settings.yaml"
    as_yaml.write_text("api_key: k\nflag: true\n")
    assert load_settings(as_yaml, []) == {**DEMO_SETTINGS, "api_key": "k", "flag": True}
    assert load_settings(None, ["equation=a=b"]) == {**DEMO_SETTINGS, "equation": "a=b"}


@pytest.mark.parametrize("pair", ["no-equals", "=value"])
def test_a_malformed_setting_is_refused(pair):
    with pytest.raises(ValueError, match="name=value"):
        load_settings(None, [pair])


def test_the_command_line_rejects_a_malformed_setting(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--setting", "oops"])
    assert exited.value.code == 2
    assert "name=value" in capsys.readouterr().err


def test_the_command_line_reports_a_plugin_that_cannot_start(tmp_path, capsys):
    (tmp_path / "main.py").write_text("raise SystemExit('not a plugin')\n")
    assert main(["--plugin-dir", str(tmp_path), "--port", "0"]) == 1
    assert "not a plugin" in capsys.readouterr().err


DECLARED_PATHS = {route.path for route in declarations.routes()}
"""What this plugin declares: a copy made with ``make scaffold --minimal`` has neither ``/v1/`` nor ``/mcp``."""


def test_the_banner_shows_the_openai_base_url_when_the_plugin_declares_it():
    banner = format_banner(ENDPOINT, plugin_dir=ROOT, settings=default_settings(ROOT))
    if "/v1/chat/completions" not in DECLARED_PATHS:
        assert "OpenAI" not in banner and "/v1/" not in banner
        return
    chat = next(app for app in DEMO_APPS if app.takes_query)
    assert f"base URL {ENDPOINT}/v1" in banner
    assert f"{ENDPOINT}/v1/chat/completions" in banner and f'"model": "{chat.slug}"' in banner


def mcp_configurations(banner: str) -> dict[str, dict]:
    """The MCP client configurations of the banner, by the label printed before each."""
    found = {}
    for line in banner.splitlines():
        label, separator, document = line.strip().partition(": {")
        if separator and '"mcpServers"' in document:
            found[label] = json.loads("{" + document)
    return found


@pytest.mark.parametrize("api_key", [None, "secret-one"])
def test_the_banner_shows_the_mcp_url_and_a_labelled_configuration_per_kind_of_host(api_key):
    settings = default_settings(ROOT) | ({"api_key": api_key} if api_key else {})
    banner = format_banner(ENDPOINT, plugin_dir=ROOT, settings=settings)
    if "/mcp" not in DECLARED_PATHS:
        assert "MCP" not in banner and "mcpServers" not in banner
        return
    url = f"{ENDPOINT}/mcp"
    assert f"MCP server (Streamable HTTP): {url}" in banner
    by_label = mcp_configurations(banner)
    assert list(by_label) == [
        "Cursor (~/.cursor/mcp.json) and hosts that take a URL",
        "Claude Desktop, through the mcp-remote bridge",
    ]
    by_url, by_bridge = (entry["mcpServers"]["dify-apps"] for entry in by_label.values())
    assert by_url["url"] == url
    assert by_bridge["command"] == "npx" and by_bridge["args"][:2] == ["mcp-remote", url]
    if api_key:  # the key's place is shown, never the key; mcp-remote takes the header's value from env
        assert by_url["headers"] == {"Authorization": "Bearer <key>"}
        assert by_bridge["args"][2:] == ["--header", "Authorization:${AUTH_HEADER}"]
        assert by_bridge["env"] == {"AUTH_HEADER": "Bearer <key>"}
        assert api_key not in banner
    else:
        assert "headers" not in by_url and by_bridge["args"] == ["mcp-remote", url] and "env" not in by_bridge


DECLARES_ALLOWED_APPS = "allowed_apps" in {setting["name"] for setting in declarations.settings()}


@pytest.mark.parametrize("plugin_dir", [None, *([ROOT] if DECLARES_ALLOWED_APPS else [])], ids=str)
@pytest.mark.parametrize("empty", ["", " ", ", "])
def test_the_banner_says_when_the_endpoint_is_closed(plugin_dir, empty):
    closed = format_banner(ENDPOINT, plugin_dir=plugin_dir, settings={"allowed_apps": empty})
    [warning] = [line for line in closed.splitlines() if line.startswith("allowed_apps is empty")]
    assert "403 endpoint_not_configured" in warning and "allowed_apps=*" in warning
    for serving in (DEMO_SETTINGS, {"allowed_apps": "*"}):
        assert "allowed_apps is empty" not in format_banner(ENDPOINT, plugin_dir=plugin_dir, settings=serving)


def test_a_plugin_without_an_allowed_apps_setting_is_not_said_to_be_closed():
    """The echo plugin declares no allowed_apps: a value given for it changes nothing."""
    banner = format_banner(ENDPOINT, plugin_dir=ECHO_PLUGIN, settings={"allowed_apps": ""})
    assert "allowed_apps is empty" not in banner
