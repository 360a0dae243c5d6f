"""The plugin's declaration (manifest, endpoint group, endpoint files) as the SDK and the daemon read it.

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


def test_sdk_routes_every_path_and_method_to_its_endpoint_class(loaded):
    expected = []
    for kind, cls in (("chat", "ChatEndpoint"), ("workflow", "WorkflowEndpoint"), ("completion", "CompletionEndpoint")):
        expected += [
            [f"/{kind}/<app_id>", ["GET", "HEAD"], cls],
            [f"/{kind}/<app_id>", ["OPTIONS"], cls],
            [f"/{kind}/<app_id>", ["POST"], cls],
        ]
    assert loaded["rules"] == sorted(expected)


def test_exactly_one_endpoint_group_with_the_contract_settings(loaded, manifest):
    assert len(manifest["plugins"]["endpoints"]) == 1
    (group,) = loaded["groups"]
    settings = {setting["name"]: setting for setting in group["settings"]}
    assert {name: setting["type"] for name, setting in settings.items()} == {
        "api_key": "secret-input",
        "allowed_apps": "text-input",
        "cors_allowed_origins": "text-input",
        "show_usage_cost": "boolean",
    }
    # Closed until configured: Dify's form insists on allowed_apps, and its help says what * means.
    assert [name for name, setting in settings.items() if setting["required"]] == ["allowed_apps"]
    help_text = settings["allowed_apps"]["help"]["en_US"]
    assert "* serves every app" in help_text and "403" in help_text
    assert "several keys" in settings["api_key"]["help"]["en_US"].lower()


def test_settings_are_translated_into_four_languages():
    group = yaml.safe_load((ROOT / "group" / "app_relay.yaml").read_text(encoding="utf-8"))
    for setting in group["settings"]:
        for text in ("label", "help") if setting["type"] == "boolean" else ("label", "help", "placeholder"):
            assert set(setting[text]) == set(LANGUAGES), (setting["name"], text)
            assert all(setting[text][language].strip() for language in LANGUAGES)
    assert len(group["settings"]) <= 64


def test_manifest_follows_the_daemons_rules(manifest):
    version = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$")
    assert version.match(manifest["version"]) and version.match(manifest["meta"]["version"])
    assert manifest["type"] == "plugin"
    assert re.match(r"^[a-z0-9_-]{1,64}$", manifest["author"])
    assert re.match(r"^[a-z0-9_-]{1,128}$", manifest["name"])
    for text in ("label", "description"):
        assert set(manifest[text]) == set(LANGUAGES)
        assert all(0 < len(value) < 1024 for value in manifest[text].values())
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


def test_endpoint_files_are_one_path_and_method_each(manifest):
    group = yaml.safe_load((ROOT / manifest["plugins"]["endpoints"][0]).read_text(encoding="utf-8"))
    seen = set()
    for reference in group["endpoints"]:
        endpoint = yaml.safe_load((ROOT / reference).read_text(encoding="utf-8"))
        assert endpoint["method"] in {"GET", "POST", "OPTIONS"}
        assert (ROOT / endpoint["extra"]["python"]["source"]).is_file()
        seen.add((endpoint["path"], endpoint["method"]))
    assert len(seen) == len(group["endpoints"]) == 9


def test_runtime_requirements_pin_the_sdk_to_the_0_10_line():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip()]
    sdk = next(line for line in lines if line.startswith("dify-plugin"))
    assert ">=0.10" in sdk and "<0.11" in sdk
    names = {re.split(r"[<>=~!\[ ]", line, maxsplit=1)[0].lower() for line in lines}
    assert {"dify-plugin", "werkzeug", "pyyaml"} <= names
    assert not names & {"pytest", "ruff", "playwright", "pathspec", "cryptography"}  # dev tools stay out
