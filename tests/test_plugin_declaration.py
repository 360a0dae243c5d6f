"""The plugin's declaration (manifest, endpoint group, endpoint files) as the SDK and the daemon read it.

What is expected comes from the plugin's own files (``tests.declarations``): a new endpoint or setting needs no
change here, and the tests hold for any plugin started from this one (``make scaffold``). What only the relay
declares is in ``test_relay_declaration.py``.

The SDK part runs in a subprocess: importing ``dify_plugin`` monkey-patches the interpreter with gevent,
which must not leak into the other tests.
"""

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests import declarations

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("en_US", "zh_Hans", "ja_JP", "pt_BR")

_LOAD_THROUGH_SDK = """
import json
from dify_plugin.config.config import DifyPluginEnv
from dify_plugin.core.plugin_registration import PluginRegistration

registration = PluginRegistration(DifyPluginEnv())
print(json.dumps({
    "manifest": registration.configuration.model_dump(mode="json"),
    "groups": [group.model_dump(mode="json") for group in registration.endpoints_configuration],
    "rules": sorted(
        [rule.rule, sorted(rule.methods), rule.endpoint.__name__]
        for rule in registration.endpoints.iter_rules()
    ),
}))
"""


@pytest.fixture(scope="module")
def loaded() -> dict:
    """The plugin as the SDK itself loads it: manifest model, group models, and the werkzeug routing map."""
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_THROUGH_SDK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))


def test_sdk_routes_every_declared_path_and_method_to_its_endpoint_class(loaded):
    expected = []
    for route in declarations.routes():
        [cls] = declarations.endpoint_classes(route.source)
        # werkzeug answers HEAD wherever GET is routed.
        methods = ["GET", "HEAD"] if route.method == "GET" else [route.method]
        expected.append([route.path, methods, cls])
    assert loaded["rules"] == sorted(expected)


def test_exactly_one_endpoint_group_whose_settings_the_sdk_reads_as_declared(loaded, manifest):
    assert len(manifest["plugins"]["endpoints"]) == 1
    (group,) = loaded["groups"]
    declared = [(s["name"], s["type"], bool(s.get("required", False))) for s in declarations.settings()]
    assert [(s["name"], s["type"], s["required"]) for s in group["settings"]] == declared


def test_settings_are_named_once_and_in_english_and_translated_completely_or_not_at_all():
    settings = declarations.settings()
    names = [setting["name"] for setting in settings]
    assert len(names) == len(set(names)) and len(names) <= 64
    for setting in settings:
        texts = {key: setting[key] for key in ("label", "help", "placeholder") if setting.get(key) is not None}
        languages = set(texts["label"])
        assert "en_US" in languages and languages <= set(LANGUAGES), setting["name"]
        for key, text in texts.items():
            # A translation covers every text of the setting, or there is none: no half-translated form.
            assert set(text) == languages, (setting["name"], key)
            assert all(isinstance(value, str) and value.strip() for value in text.values()), (setting["name"], key)


def test_manifest_follows_the_daemons_rules(manifest):
    version = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$")
    assert version.match(manifest["version"]) and version.match(manifest["meta"]["version"])
    assert manifest["type"] == "plugin"
    assert re.match(r"^[a-z0-9_-]{1,64}$", manifest["author"])
    assert re.match(r"^[a-z0-9_-]{1,128}$", manifest["name"])
    for text in ("label", "description"):
        assert "en_US" in manifest[text] and set(manifest[text]) <= set(LANGUAGES)
        assert all(0 < len(value.strip()) <= len(value) < 1024 for value in manifest[text].values())
    for icon in ("icon", "icon_dark"):
        assert (ROOT / "_assets" / manifest[icon]).is_file()
    assert isinstance(manifest["resource"]["memory"], int) and manifest["resource"]["memory"] > 0
    permission = manifest["resource"]["permission"]
    assert permission["endpoint"]["enabled"] is True and permission["app"]["enabled"] is True
    assert set(manifest["meta"]["arch"]) <= {"amd64", "arm64"}
    assert manifest["meta"]["runner"] == {"language": "python", "version": "3.12", "entrypoint": "main"}
    created = manifest["created_at"]
    datetime.fromisoformat(created if isinstance(created, str) else created.isoformat())
    assert (ROOT / manifest["privacy"]).is_file()
    assert (ROOT / "requirements.txt").is_file()


def test_endpoint_files_are_one_path_and_method_each_with_one_endpoint_class():
    routes = declarations.routes()
    assert routes, "the group declares no endpoint"
    for route in routes:
        assert route.method in {"HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS"}, route
        assert route.path.startswith("/"), route
        assert len(declarations.endpoint_classes(route.source)) == 1, route.source
    assert len({(route.path, route.method) for route in routes}) == len(routes)


def test_runtime_requirements_pin_the_sdk_to_the_0_10_line():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip()]
    sdk = next(line for line in lines if line.startswith("dify-plugin"))
    assert ">=0.10" in sdk and "<0.11" in sdk
    names = {re.split(r"[<>=~!\[ ]", line, maxsplit=1)[0].lower() for line in lines}
    assert {"dify-plugin", "werkzeug", "pyyaml"} <= names
    assert not names & {"pytest", "ruff", "playwright", "pathspec", "cryptography"}  # dev tools stay out
