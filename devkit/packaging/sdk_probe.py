"""Load a staged plugin through the ``dify_plugin`` SDK itself and report what it rejects.

Run as a script in a subprocess whose working directory is the staged package (exactly the files that go into
the ``.difypkg``)::

    python -B devkit/packaging/sdk_probe.py RESULT.json

It writes a JSON list of ``{"file", "message", "field"}`` objects to RESULT.json and exits 0 even when it finds
problems; a non-zero exit means the probe itself crashed.

Why a subprocess: importing ``dify_plugin`` applies gevent's monkey patching to the whole interpreter, which must
not happen to the packaging command or to the test runner. And the SDK resolves every path (manifest, endpoint
files, sources) against the current directory, the way it will on the server, so the directory must be the
staged package and nothing else.

Why this file imports nothing from ``devkit``: it runs with the staged plugin as its only import root, like the
plugin does under ``python -m main``; a plugin that only imports because the repository happens to be on
``sys.path`` must fail here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

Finding = dict[str, str | None]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -B sdk_probe.py RESULT.json", file=sys.stderr)
        return 2
    # Under `python -m main` the first import root is the working directory; running a script by path would put
    # this file's directory there instead.
    sys.path[0] = os.getcwd()
    findings = probe()
    Path(argv[0]).write_text(json.dumps(findings), encoding="utf-8")
    return 0


def probe() -> list[Finding]:
    """Every SDK-level check; returns findings instead of raising so that all of them are reported."""
    try:
        from dify_plugin.core.entities.plugin.setup import PluginConfiguration  # noqa: F401
    except Exception as error:
        return [_finding("requirements.txt", f"the SDK (dify_plugin) cannot be imported: {_one_line(error)}")]

    findings: list[Finding] = []
    manifest = _read_yaml("manifest.yaml")
    if not isinstance(manifest, dict):
        return findings  # the static rules already report a missing or unreadable manifest
    findings += _check_manifest(manifest)
    sources: list[str] = []
    for group_path in _group_paths(manifest):
        findings += _check_group(group_path, sources)
    for source in dict.fromkeys(sources):
        findings += _check_endpoint_source(source)
    if not findings:
        findings += _check_registration()
    return findings


def _check_manifest(manifest: dict[str, Any]) -> list[Finding]:
    from dify_plugin.core.entities.plugin.setup import PluginConfiguration

    return _model_findings("manifest.yaml", "PluginConfiguration", PluginConfiguration, manifest)


def _check_group(group_path: str, sources: list[str]) -> list[Finding]:
    """The group's settings and each endpoint file, one model at a time so that every bad file is named."""
    from dify_plugin.entities.endpoint import EndpointConfiguration
    from dify_plugin.entities.provider_config import ProviderConfig

    group = _read_yaml(group_path)
    if not isinstance(group, dict):
        return []
    findings: list[Finding] = []
    settings = group.get("settings") or []
    for index, setting in enumerate(settings if isinstance(settings, list) else []):
        data = setting if isinstance(setting, dict) else {}
        findings += _model_findings(group_path, "ProviderConfig", ProviderConfig, data, prefix=f"settings[{index}]")
    endpoints = group.get("endpoints")
    for endpoint_path in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(endpoint_path, str) or not Path(endpoint_path).is_file():
            continue  # reported by the static rules
        endpoint = _read_yaml(endpoint_path)
        data = endpoint if isinstance(endpoint, dict) else {}
        endpoint_findings = _model_findings(endpoint_path, "EndpointConfiguration", EndpointConfiguration, data)
        findings += endpoint_findings
        source = ((data.get("extra") or {}).get("python") or {}).get("source") if not endpoint_findings else None
        if isinstance(source, str) and Path(source).is_file():
            sources.append(source)
    return findings


def _check_endpoint_source(source: str) -> list[Finding]:
    """Load the source as the SDK does: it must define exactly one ``Endpoint`` subclass in its namespace."""
    from dify_plugin.core.utils.class_loader import load_single_subclass_from_source
    from dify_plugin.interfaces.endpoint import Endpoint

    module_name = Path(source).with_suffix("").as_posix().replace("/", ".")  # the SDK's module naming
    try:
        load_single_subclass_from_source(
            module_name=module_name, script_path=str(Path.cwd() / source), parent_type=Endpoint
        )
    except Exception as error:
        return [_finding(source, f"the SDK's class loader cannot use it: {_one_line(error)}")]
    return []


def _check_registration() -> list[Finding]:
    """The SDK's whole start-up path short of the I/O loop: what ``Plugin(...)`` does before serving."""
    from dify_plugin.config.config import DifyPluginEnv
    from dify_plugin.core.plugin_registration import PluginRegistration

    try:
        PluginRegistration(DifyPluginEnv())
    except Exception as error:
        return [_finding("manifest.yaml", f"the SDK cannot register the plugin: {_one_line(error)}")]
    return []


def _model_findings(path: str, model_name: str, model: Any, data: dict[str, Any], *, prefix: str = "") -> list[Finding]:
    from pydantic import ValidationError

    try:
        model(**data)
    except ValidationError as error:
        findings = []
        for detail in error.errors(include_url=False):
            field = ".".join(str(part) for part in detail["loc"])
            where = ".".join(part for part in (prefix, field) if part)
            message = f"{where}: {detail['msg']} (SDK {model_name})"
            findings.append(_finding(path, message, field=where or None))
        return findings
    except Exception as error:
        return [_finding(path, f"rejected by the SDK's {model_name}: {_one_line(error)}")]
    return []


def _group_paths(manifest: dict[str, Any]) -> list[str]:
    plugins = manifest.get("plugins")
    groups = plugins.get("endpoints") if isinstance(plugins, dict) else None
    return [g for g in groups if isinstance(g, str) and Path(g).is_file()] if isinstance(groups, list) else []


def _read_yaml(path: str) -> object:
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # reported by the static rules


def _finding(file: str, message: str, field: str | None = None) -> Finding:
    # Name files as package paths, not as the temporary staging directory they were loaded from.
    return {"file": file, "message": message.replace(os.getcwd() + os.sep, ""), "field": field}


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
