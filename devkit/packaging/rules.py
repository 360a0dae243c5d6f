"""The rules a Dify endpoint plugin must follow to install and start, checked on the files that go into the package.

Each would otherwise fail later, on the server, more vaguely. Sources: the daemon's declaration types
(pkg/entities/plugin_entities/plugin_declaration.go, basic_type.go, config.go, endpoint_declaration.go) and regexes
(pkg/entities/manifest_entities/version.go, ``AuthorRegex``, ``PluginNameRegex``), applied on upload and by its
packager; its install path (icons in ``_assets/``, ``README.md`` required, dependencies from ``pyproject.toml`` if
present, else ``requirements.txt``); Dify (only one endpoint group takes effect, at most 64 settings); this plugin
(it registers endpoints and invokes apps: both permissions). The SDK's own models are checked by
``devkit.packaging.sdk_probe``; here only bytes and parsed YAML. Paths are package paths (``/``-separated): a file
``.difyignore`` leaves out is missing here, as it will be on the server.
"""

import datetime
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

MANIFEST = "manifest.yaml"

# pkg/entities/manifest_entities/version.go: VERSION_PATTERN, anchored. Go's \d and \w are ASCII-only.
VERSION_RE = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$", re.ASCII)
# pkg/entities/plugin_entities/plugin_declaration.go: AuthorRegex, PluginNameRegex (checked on every upload).
AUTHOR_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
NAME_RE = re.compile(r"^[a-z0-9_-]{1,128}$")
# RFC 3339 date-time, the form the daemon's YAML decoder and the SDK's datetime field both take.
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

I18N_LANGUAGES = ("en_US", "zh_Hans", "ja_JP", "pt_BR")
I18N_MAX_CHARS = 1023  # basic_type.go: validate:"lt=1024", counted in runes (Python str length)
ARCHES = frozenset({"amd64", "arm64"})  # constants/arch.go
RUNNER_LANGUAGE = "python"  # constants/language.go: the only language the daemon accepts
RUNNER_VERSION = "3.12"  # the daemon creates the venv with `uv venv --python 3.12`; dify-plugin >= 0.8 needs it
ENDPOINT_METHODS = frozenset({"HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS"})  # endpoint_declaration.go
SETTING_TYPES = frozenset(
    {"secret-input", "text-input", "select", "boolean", "app-selector", "model-selector", "array[tools]"}
)  # config.go: isCredentialType
MAX_SETTINGS = 64  # config.go: ValidateProviderConfigs refuses more setting fields
MAX_OPTIONS = 127  # config.go: options validate:"lt=128"
# fmt: off
PLUGIN_TAGS = frozenset({
    "search", "image", "videos", "weather", "finance", "design", "travel", "social", "news", "medical",
    "productivity", "education", "business", "entertainment", "utilities", "agent", "rag", "other", "trigger",
})  # manifest_entities/tags.go
# fmt: on
EXCLUSIVE_CATEGORIES = ("models", "agent_strategies", "datasources", "triggers")  # ManifestValidate: not with endpoints
VERIFICATION_FILE = ".verification.dify.json"  # consts/verification.go: written by the signer only

# How the checks report: fail(dotted field, message).
type _Fail = Callable[[str, str], None]


@dataclass(frozen=True)
class Problem:
    """A broken rule, as every check of ``make package`` (the SDK probe too) reports it. ``field``: the dotted
    field concerned (``meta.arch``); the validator drops SDK reports of a field the daemon's message already covers."""

    file: str
    message: str
    severity: Literal["error", "warning"] = "error"
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.file}: {self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    """The problems that stop the build (warnings are printed but let it through)."""
    return [problem for problem in problems if problem.severity == "error"]


def check_plugin(files: Mapping[str, bytes]) -> list[Problem]:
    """Every rule above, on the package's files (path -> content). Returns all problems, never stops early."""
    problems: list[Problem] = []
    manifest = _load_yaml(files, MANIFEST, problems, what="the plugin manifest (the daemon reads it at the root)")
    if manifest is not None:
        problems += check_manifest(manifest, files)
        groups = _get(manifest, "plugins.endpoints")
        for group_path in groups if isinstance(groups, list) else []:
            if isinstance(group_path, str) and group_path:
                problems += check_endpoint_group(group_path, files)
    return problems + check_support_files(files)


def _reporter(file: str) -> tuple[list[Problem], _Fail]:
    """A list of problems, and ``fail``, which adds one about ``file`` to it."""
    found: list[Problem] = []
    return found, lambda field, message: found.append(Problem(file, f"{field}: {message}", field=field))


def _get(data: object, dotted: str) -> Any:
    """``data[a][b]`` for ``"a.b"``; ``None`` when a level is missing or not a mapping."""
    for key in dotted.split("."):
        data = data.get(key) if isinstance(data, Mapping) else None
    return data


def check_manifest(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> list[Problem]:
    found, fail = _reporter(MANIFEST)
    _check_pattern(manifest.get("version"), VERSION_RE, "version", fail)
    if manifest.get("type") != "plugin":
        fail("type", f"must be 'plugin', got {manifest.get('type')!r}")
    _check_pattern(manifest.get("author"), AUTHOR_RE, "author", fail)
    _check_pattern(manifest.get("name"), NAME_RE, "name", fail)
    for field in ("label", "description"):
        _check_i18n(manifest.get(field), field, fail)
    for field, required in (("icon", True), ("icon_dark", False)):
        _check_icon(manifest.get(field), field, required, files, fail)
    calls_apps = any(path.endswith(".py") and b"session.app." in files[path] for path in files)
    _check_resource(manifest, calls_apps, fail)
    _check_plugins(manifest.get("plugins"), fail)
    _check_meta(manifest.get("meta"), files, fail)
    tags = manifest.get("tags")
    if tags is not None and (not isinstance(tags, list) or any(tag not in PLUGIN_TAGS for tag in tags)):
        fail("tags", f"must be a list of {sorted(PLUGIN_TAGS)}, got {tags!r}")
    created_at = manifest.get("created_at")  # YAML reads an unquoted timestamp as a datetime already
    if not isinstance(created_at, datetime.datetime) and not _matches(RFC3339_RE, created_at):
        fail("created_at", f"must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z, got {created_at!r}")
    privacy = manifest.get("privacy")
    if privacy is not None and (not isinstance(privacy, str) or not privacy):
        fail("privacy", "must be the path of the privacy policy file, or a URL")
    elif privacy is not None and not _is_url(privacy) and privacy not in files:
        fail("privacy", f"{privacy} is not in the package (missing, or excluded by .difyignore)")
    repo = manifest.get("repo")
    if repo is not None and (not isinstance(repo, str) or not _is_url(repo)):
        fail("repo", f"must be an http(s) URL, got {repo!r}")
    return found


def _check_i18n(value: object, field: str, fail: _Fail) -> None:
    """A daemon ``I18nObject``: en_US required and non-empty, every text < 1024."""
    if not isinstance(value, Mapping):
        fail(field, "must be a mapping of language -> text with at least en_US")
        return
    english = value.get("en_US")
    if not isinstance(english, str) or not english.strip():
        fail(field, "en_US text is required and must not be empty")
    for language in I18N_LANGUAGES:
        text = value.get(language)
        if text is not None and not isinstance(text, str):
            fail(field, f"{language} must be a string")
        elif text is not None and len(text) > I18N_MAX_CHARS:
            fail(field, f"{language} is {len(text)} characters, the daemon allows at most {I18N_MAX_CHARS}")


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    # fullmatch, not match: Python's `$` also matches before a final newline, Go's does not.
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _check_pattern(value: object, pattern: re.Pattern[str], field: str, fail: _Fail) -> None:
    if not _matches(pattern, value):
        fail(field, f"{value!r} does not match the daemon's {pattern.pattern}")


def _is_url(value: str) -> bool:
    return re.match(r"^https?://[^\s/]+", value) is not None


def _check_icon(value: object, field: str, required: bool, files: Mapping[str, bytes], fail: _Fail) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        fail(field, "must name a file in _assets/")
    elif len(value) > 128 or "/" in value or "\\" in value:
        # The SDK only ships the files directly in _assets/ (os.scandir), and the daemon keeps 128 characters.
        fail(field, f"{value!r} must be a plain file name (at most 128 characters) of a file directly in _assets/")
    elif f"_assets/{value}" not in files:
        fail(field, f"_assets/{value} is not in the package (missing, or excluded by .difyignore)")


def _check_resource(manifest: Mapping[str, Any], calls_apps: bool, fail: _Fail) -> None:
    resource = manifest.get("resource")
    if not isinstance(resource, Mapping):
        fail("resource", "is required (memory in bytes and the permissions)")
        return
    memory = resource.get("memory")
    if isinstance(memory, bool) or not isinstance(memory, int) or memory <= 0:
        fail("resource.memory", f"must be a positive whole number of bytes, got {memory!r}")
    for permission, needed, why in (
        ("endpoint", bool(_get(manifest, "plugins.endpoints")), "the plugin declares an endpoint group"),
        ("app", calls_apps, "the plugin's code calls apps (session.app.*)"),
    ):
        if needed and _get(resource, f"permission.{permission}.enabled") is not True:
            fail(f"resource.permission.{permission}.enabled", f"must be true: {why}")
    size = _get(resource, "permission.storage.size")
    if _get(resource, "permission.storage.enabled") and (not isinstance(size, int) or not 1024 <= size <= 1073741824):
        fail("resource.permission.storage.size", f"must be between 1024 and 1073741824 bytes, got {size!r}")


def _check_plugins(plugins: object, fail: _Fail) -> None:
    if not isinstance(plugins, Mapping):
        fail("plugins", "is required and must list the endpoint group file")
        return
    groups = plugins.get("endpoints")
    groups = groups if isinstance(groups, list) else []
    if len(groups) != 1:
        fail("plugins.endpoints", f"must list exactly one endpoint group (Dify only uses one), found {len(groups)}")
    for group in groups:
        if not isinstance(group, str) or not group or len(group) > 128:
            fail("plugins.endpoints", f"{group!r} must be a file path of at most 128 characters")
    for category in EXCLUSIVE_CATEGORIES:
        if plugins.get(category):
            fail(f"plugins.{category}", "cannot be combined with endpoints (the daemon's ManifestValidate)")


def _check_meta(meta: object, files: Mapping[str, bytes], fail: _Fail) -> None:
    if not isinstance(meta, Mapping):
        fail("meta", "is required (version, arch, runner)")
        return
    _check_pattern(meta.get("version"), VERSION_RE, "meta.version", fail)
    arch = meta.get("arch")
    if not isinstance(arch, list) or not arch or any(a not in ARCHES for a in arch):
        fail("meta.arch", f"must be a non-empty list of {sorted(ARCHES)}, got {arch!r}")
    runner = meta.get("runner")
    if not isinstance(runner, Mapping):
        fail("meta.runner", "is required (language, version, entrypoint)")
        return
    if runner.get("language") != RUNNER_LANGUAGE:
        fail("meta.runner.language", f"must be {RUNNER_LANGUAGE!r}, got {runner.get('language')!r}")
    version = runner.get("version")
    if version != RUNNER_VERSION:
        hint = " (quote it: YAML reads 3.12 as a number)" if isinstance(version, float) else ""
        fail("meta.runner.version", f"must be the string {RUNNER_VERSION!r}, got {version!r}{hint}")
    entrypoint = runner.get("entrypoint")
    module = entrypoint.replace(".", "/") if isinstance(entrypoint, str) else ""
    if not module or len(module) > 256:
        fail("meta.runner.entrypoint", f"must be a module name such as 'main', got {entrypoint!r}")
    elif f"{module}.py" not in files and f"{module}/__main__.py" not in files:
        # Dify starts the plugin with `python -m <entrypoint>`.
        fail("meta.runner.entrypoint", f"{entrypoint!r} needs {module}.py in the package")
    minimum = meta.get("minimum_dify_version")
    if minimum is not None and not _matches(re.compile(r"\d+(\.\d+)*"), minimum):
        fail("meta.minimum_dify_version", f"must be a version string such as '1.0.0', got {minimum!r}")


def check_endpoint_group(group_path: str, files: Mapping[str, bytes]) -> list[Problem]:
    found, fail = _reporter(group_path)
    group = _load_yaml(files, group_path, found, what=f"the endpoint group listed in {MANIFEST}")
    if group is None:
        return found
    _check_settings(group.get("settings", []), fail)
    endpoints = group.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        fail("endpoints", "must list at least one endpoint file")
        return found
    routes: dict[tuple[str, str], str] = {}
    for endpoint_path in endpoints:
        if not isinstance(endpoint_path, str) or not endpoint_path:
            fail("endpoints", f"{endpoint_path!r} must be the path of an endpoint file")
            continue
        endpoint = _load_yaml(files, endpoint_path, found, what=f"an endpoint listed in {group_path}")
        if endpoint is None:
            continue
        found += _endpoint_problems(endpoint_path, endpoint, files)
        route = (str(endpoint.get("method", "")).upper(), str(endpoint.get("path", "")))
        if route in routes:
            message = f"{route[0]} {route[1]} is already declared by {routes[route]}; only one of them would run"
            found.append(Problem(endpoint_path, message))
        routes.setdefault(route, endpoint_path)
    return found


def _check_settings(settings: object, fail: _Fail) -> None:
    if not isinstance(settings, list):
        fail("settings", "must be a list")
        return
    if len(settings) > MAX_SETTINGS:
        fail("settings", f"{len(settings)} fields, Dify accepts at most {MAX_SETTINGS}")
    seen: set[str] = set()
    for index, setting in enumerate(settings):
        where = f"settings[{index}]"
        if not isinstance(setting, Mapping):
            fail(where, "must be a mapping")
            continue
        name = setting.get("name")
        if not isinstance(name, str) or not name or len(name) > 1023:
            fail(f"{where}.name", f"must be a non-empty string, got {name!r}")
        elif name in seen:
            fail(f"{where}.name", f"{name!r} is used twice")
        seen.add(name if isinstance(name, str) else "")
        if setting.get("type") not in SETTING_TYPES:
            fail(f"{where}.type", f"must be one of {sorted(SETTING_TYPES)}, got {setting.get('type')!r}")
        for key in ("label", "help", "placeholder"):
            if key == "label" or setting.get(key) is not None:
                _check_i18n(setting.get(key), f"{where}.{key}", fail)
        options = setting.get("options")
        if options is not None and (not isinstance(options, list) or len(options) > MAX_OPTIONS):
            fail(f"{where}.options", f"must be a list of at most {MAX_OPTIONS} options")


def _endpoint_problems(endpoint_path: str, endpoint: Mapping[str, Any], files: Mapping[str, bytes]) -> list[Problem]:
    found, fail = _reporter(endpoint_path)
    path = endpoint.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        fail("path", f"must be a URL path starting with '/', got {path!r}")
    if endpoint.get("method") not in ENDPOINT_METHODS:
        fail("method", f"must be one of {sorted(ENDPOINT_METHODS)} (upper case), got {endpoint.get('method')!r}")
    if not isinstance(endpoint.get("hidden", False), bool):
        fail("hidden", "must be true or false")
    source = _get(endpoint, "extra.python.source")
    if not isinstance(source, str) or not source.endswith(".py"):
        fail("extra.python.source", f"must name the endpoint's .py file, got {source!r}")
    elif source not in files:
        fail("extra.python.source", f"{source} is not in the package (missing, or excluded by .difyignore)")
    return found


def check_support_files(files: Mapping[str, bytes]) -> list[Problem]:
    """Dependencies, README and reserved names: what the daemon looks for beyond the declarations."""
    found = []
    requirements = files.get("requirements.txt")
    if requirements is None:
        found.append(Problem("requirements.txt", "is not in the package; the daemon installs dependencies from it"))
    elif not _requires_sdk(requirements):
        found.append(Problem("requirements.txt", "must require dify-plugin (the SDK the plugin runs on)"))
    pyproject = files.get("pyproject.toml")
    if pyproject is not None and not _declares_dependencies(pyproject):
        message = (
            "is in the package but declares no [project] dependencies; the daemon prefers it to "
            "requirements.txt and would install nothing (add it to .difyignore)"
        )
        found.append(Problem("pyproject.toml", message))
    if "README.md" not in files:
        found.append(Problem("README.md", "is not in the package; the daemon requires it (en_US readme)"))
    if VERIFICATION_FILE in files:
        found.append(Problem(VERIFICATION_FILE, "is reserved for the signature; remove it or add it to .difyignore"))
    return found


def _requires_sdk(requirements: bytes) -> bool:
    """A requirement line names dify-plugin (PEP 503 normalized); comments and pip options do not count."""
    lines = requirements.decode("utf-8", "replace").splitlines()
    matches = [re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0]) for line in lines]
    return any(re.sub(r"[-_.]+", "-", match.group(1)).lower() == "dify-plugin" for match in matches if match)


def _declares_dependencies(pyproject: bytes) -> bool:
    try:
        project = tomllib.loads(pyproject.decode("utf-8")).get("project")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return isinstance(project, dict) and bool(project.get("dependencies"))


def _load_yaml(files: Mapping[str, bytes], path: str, problems: list[Problem], *, what: str) -> dict[str, Any] | None:
    """Parse one YAML file of the package the way the SDK does (``yaml.safe_load``), or record why not."""
    content = files.get(path)
    if content is None:
        problems.append(Problem(path, f"{what} is not in the package (missing, or excluded by .difyignore)"))
        return None
    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problems.append(Problem(path, f"is not valid UTF-8 YAML: {' '.join(str(error).split())}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path, f"must be a YAML mapping, got {type(data).__name__}"))
        return None
    return data
