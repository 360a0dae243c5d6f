"""Load a staged plugin through the ``dify_plugin`` SDK itself and report what it rejects.

``validation.sdk_problems`` runs ``python -B sdk_probe.py RESULT.json`` in the staged package (exactly the
``.difypkg``'s files); it writes a JSON list of ``{"file", "message", "field"}`` to RESULT.json and exits 0 even
with findings (non-zero: the probe crashed). A subprocess, because importing ``dify_plugin`` monkey-patches the
whole interpreter (gevent) and the SDK resolves every path against the current directory, as on the server. It
imports nothing from ``devkit``: like the plugin under ``python -m main``, its only import root is the staged
plugin, so a plugin that imports only because the repository is on ``sys.path`` fails here.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

Finding = dict[str, str | None]


def probe() -> list[Finding]:
    """Every SDK-level check; returns findings instead of raising so that all of them are reported."""
    try:
        from dify_plugin.core.entities.plugin.setup import PluginConfiguration
    except Exception as error:
        return [_finding("requirements.txt", f"the SDK (dify_plugin) cannot be imported: {_one_line(error)}")]

    manifest = _read_yaml("manifest.yaml")
    if not isinstance(manifest, dict):
        return []  # the static rules already report a missing or unreadable manifest
    findings = _model_findings("manifest.yaml", PluginConfiguration, manifest)
    sources: list[str] = []
    plugins = manifest.get("plugins")
    groups = plugins.get("endpoints") if isinstance(plugins, dict) else None
    for group_path in groups if isinstance(groups, list) else []:
        if isinstance(group_path, str) and Path(group_path).is_file():
            findings += _check_group(group_path, sources)
    for source in dict.fromkeys(sources):
        findings += _check_endpoint_source(source)
    if not findings:
        findings += _check_registration()
    return findings


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
        findings += _model_findings(group_path, ProviderConfig, data, prefix=f"settings[{index}]")
    endpoints = group.get("endpoints")
    for endpoint_path in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(endpoint_path, str) or not Path(endpoint_path).is_file():
            continue  # reported by the static rules
        endpoint = _read_yaml(endpoint_path)
        data = endpoint if isinstance(endpoint, dict) else {}
        endpoint_findings = _model_findings(endpoint_path, EndpointConfiguration, data)
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


def _model_findings(path: str, model: Any, data: dict[str, Any], *, prefix: str = "") -> list[Finding]:
    from pydantic import ValidationError

    try:
        model(**data)
    except ValidationError as error:
        findings = []
        for detail in error.errors(include_url=False):
            where = ".".join(filter(None, (prefix, ".".join(str(part) for part in detail["loc"]))))
            findings.append(_finding(path, f"{where}: {detail['msg']} (SDK {model.__name__})", field=where or None))
        return findings
    except Exception as error:
        return [_finding(path, f"rejected by the SDK's {model.__name__}: {_one_line(error)}")]
    return []


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
    # As under `python -m main`, the first import root is the working directory, not this script's directory.
    sys.path[0] = os.getcwd()
    Path(sys.argv[1]).write_text(json.dumps(probe()), encoding="utf-8")
