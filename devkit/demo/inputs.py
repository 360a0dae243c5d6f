"""An app's input form as Dify describes it (``user_input_form``), and Dify's checks of the inputs sent to it.

``fetch_app`` returns the form as a list of single-key dicts (``{"text-input": {...}}``...), from which the relay
builds its browser form. ``validate_inputs`` restates, message for message and in Dify's order, ``_validate_inputs``
and ``_prepare_user_inputs`` of ``BaseAppGenerator`` (langgenius/dify, ``api/core/app/apps/base_app_generator.py``),
then ``file_factory.build_from_mapping`` for files.
"""

import mimetypes
import posixpath
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from devkit.daemon.process import DifyError, DifyServerError
from devkit.demo.remote import RemoteFile, RemoteFiles

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_STRING_KINDS = frozenset({"text-input", "select", "paragraph"})
_FILE_KINDS = frozenset({"file", "file-list"})
_TRANSFER_METHODS = frozenset({"remote_url", "local_file", "tool_file", "datasource_file"})


@dataclass(frozen=True)
class Field:
    kind: str  # Dify's variable type: text-input, paragraph, select, number, checkbox, file or file-list
    variable: str
    label: str
    required: bool = False
    default: Any = None
    max_length: int | None = None
    options: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()  # Dify's ``allowed_file_types`` (image, document, audio, video, custom)
    file_extensions: tuple[str, ...] = ()  # with ``custom`` among them: the extensions allowed (``.txt``...)
    # True: the form holds a default even when none was chosen (the studio saves one); False: its entries carry no
    # ``default`` key at all, as the recorded apps' do.
    saved_default: bool = True

    @property
    def form_default(self) -> Any:
        """The default Dify runs with: the studio saves ``""`` (``False`` for a checkbox) when none was chosen."""
        if self.default is not None or not self.saved_default:
            return self.default
        return False if self.kind == "checkbox" else ""


def fields_of(form: list[dict[str, Any]]) -> tuple[Field, ...]:
    """The fields a ``user_input_form`` (as ``fetch_app`` returns it) describes."""
    return tuple(
        Field(
            kind,
            str(body["variable"]),
            str(body.get("label") or body["variable"]),
            required=bool(body.get("required")),
            default=body.get("default"),
            max_length=body.get("max_length"),
            options=tuple(body.get("options") or ()),
            file_types=tuple(body.get("allowed_file_types") or ()),
            file_extensions=tuple(body.get("allowed_file_extensions") or ()),
            saved_default="default" in body,
        )
        for ((kind, body),) in (entry.items() for entry in form)  # one key per entry
    )


def validate_inputs(
    fields: tuple[Field, ...],
    inputs: Mapping[str, Any],
    *,
    tool_files: Container[str] | None = None,
    remote: RemoteFiles | None = None,
) -> dict[str, Any]:
    """The inputs Dify runs the app with: checked, converted, defaults filled in, NULs removed from strings, undeclared
    ones dropped. ``tool_files``: the workspace's tool file ids (``None``: any id); with ``remote`` (``remote.py``:
    reachability, detected type), remote files become the files Dify builds, else they stay as sent (name and
    extension from the URL). Raises ``DifyError`` (HTTP 400) with Dify's sentence for the first bad input, or
    ``DifyServerError`` (HTTP 500) where Dify itself fails with a ``TypeError``."""
    checked = {field.variable: _validated(field, inputs.get(field.variable)) for field in fields}
    checked = {name: value.replace("\x00", "") if isinstance(value, str) else value for name, value in checked.items()}
    for field in fields:
        value = checked[field.variable]
        if field.kind == "file" and isinstance(value, dict):
            checked[field.variable] = _built(field, value, tool_files, remote)
        elif field.kind == "file-list" and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            checked[field.variable] = [_built(field, item, tool_files, remote) for item in value if _usable(item)]
    # Built files are dicts here (Dify's are File objects): only a dict in another field is left over. (Dify's
    # second check, meant for lists holding dicts, never fires: a list of dicts in a checkbox passes.)
    kinds = {field.variable: field.kind for field in fields}  # a repeated name: the last field's kind, as in Dify
    if any(isinstance(value, dict) for name, value in checked.items() if kinds[name] not in _FILE_KINDS):
        raise DifyError("Invalid input type")
    return checked


def _validated(field: Field, value: Any) -> Any:
    name = field.variable
    if value is None:  # only a missing value: "" passes, even for a required field
        if field.required:
            raise DifyError(f"{name} is required in input form")
        if field.kind in _FILE_KINDS:
            return None  # a file input has no default
        value = field.form_default
        if value is None:
            return None
    if field.kind in _FILE_KINDS and not field.required and not value and isinstance(value, str | list):
        return None  # an empty placeholder for an optional file: unset
    if field.kind in _STRING_KINDS and not isinstance(value, str):
        raise DifyError(f"(type '{field.kind}') {name} in input form must be a string")
    if field.kind == "number":
        return _number(name, value)
    if field.kind == "select" and value not in field.options:
        raise DifyError(f"{name} in input form must be one of the following: {list(field.options)}")
    if field.kind in ("text-input", "paragraph") and field.max_length and len(value) > field.max_length:
        raise DifyError(f"{name} in input form must be less than {field.max_length} characters")
    if field.kind == "file" and not isinstance(value, dict):
        raise DifyError(f"{name} in input form must be a file")
    if field.kind == "file-list":
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise DifyError(f"{name} in input form must be a list of files")
        if field.max_length and len(value) > field.max_length:
            raise DifyError(f"{name} in input form must be less than {field.max_length} files")
    if field.kind == "checkbox":
        return _checkbox(value)
    return value


def _usable(mapping: Mapping[str, Any]) -> bool:
    """What ``build_from_mappings`` keeps of a file list: mappings with a method, remote ones with a URL."""
    method = mapping.get("transfer_method")
    return bool(method) and (method != "remote_url" or bool(mapping.get("url") or mapping.get("remote_url")))


def _built(
    field: Field, mapping: Mapping[str, Any], tool_files: Container[str] | None, remote: RemoteFiles | None
) -> dict[str, Any]:
    """``file_factory.build_from_mapping``: the file a mapping names, checked against the input's rules."""
    method = mapping.get("transfer_method")
    if method not in _TRANSFER_METHODS:
        raise DifyError(f"No matching enum found for value '{method}'")
    if method == "tool_file":
        tool_file_id = mapping.get("tool_file_id") or mapping.get("reference")
        if tool_files is not None and tool_file_id not in tool_files:
            raise DifyError(f"ToolFile {tool_file_id} not found")
        return dict(mapping)  # made by Dify itself: not held to the input's upload rules
    if method != "remote_url":
        raise DifyError("Invalid upload file")  # a console upload (local_file, datasource_file): the workspace has none
    url, declared = str(mapping.get("url") or mapping.get("remote_url") or ""), str(mapping.get("type") or "custom")
    if not url:
        raise DifyError("Invalid file url")
    if remote is not None:
        built = remote.build(url, declared)
    else:  # not looked at: the name the URL ends with, and its extension as Dify makes it
        filename = posixpath.basename(urlsplit(url).path)
        extension = RemoteFile(url, filename, mimetypes.guess_type(filename)[0] or "", -1).extension
        built = {"filename": filename, "extension": extension}
    if not _allowed(field, declared, built["extension"]):
        raise DifyError(f"File validation failed for file: {built['filename']}")
    return built if remote is not None else dict(mapping)


def _allowed(field: Field, file_type: str, extension: str) -> bool:
    """``_is_file_valid_with_config``: a kind the input allows, or ``custom`` with an allowed extension."""
    if field.file_types and file_type not in field.file_types and file_type != "custom":
        return False
    return file_type != "custom" or extension in field.file_extensions


def _number(name: str, value: Any) -> Any:
    if isinstance(value, int | float):  # bool included, as in Dify
        return value
    if isinstance(value, str):
        if not value.strip():
            return None  # missing, even for a required field
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            raise DifyError(f"{name} in input form must be a valid number") from None
    raise DifyServerError(f"expected value type int, float or str, got {type(value)}, value: {value}")


def _checkbox(value: Any) -> Any:
    """A checkbox never fails: what reads as true or false becomes a bool, anything else is kept as sent."""
    if isinstance(value, str):
        normalized = value.strip().lower()
        return True if normalized in _TRUE else False if normalized in _FALSE else value
    return bool(value) if isinstance(value, int | float) and value in (0, 1) else value
