"""Files to apps: checked against the app's rules, uploaded to Dify, passed on as the app's file inputs.

Dify takes files from a plugin only as input variables. The way there (SDK 0.10): ``session.file.upload(name,
content, mimetype)`` asks Dify for a signed upload URL, posts the bytes there, and returns a file whose
``to_app_parameter()`` is the value of a file input (``{"type", "transfer_method": "tool_file", "tool_file_id"}``).
A file already online goes without upload: ``{"type", "transfer_method": "remote_url", "url"}``.

Before anything is uploaded, the files are checked against the input's rules from the app's form
(``allowed_file_types``, ``allowed_file_extensions``, the number a file list takes), with a 400 naming the rule.
"""

import logging
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from relay.core.errors import RelayError, invalid_request, shown
from relay.core.invoke import fetch_parameters

logger = logging.getLogger(__name__)

FILE_CONTROLS = ("file", "file-list")
_TYPES_BY_PREFIX = (("image/", "image"), ("video/", "video"), ("audio/", "audio"))


@dataclass(frozen=True)
class FileInput:
    """An app's file input, as its form describes it."""

    variable: str
    many: bool
    types: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    max_files: int | None = None


@dataclass(frozen=True)
class Upload:
    """A file a client sent: to be uploaded to Dify."""

    filename: str
    content: bytes
    mimetype: str

    @property
    def extension(self) -> str:
        return ("." + self.filename.rsplit(".", 1)[-1].lower()) if "." in self.filename else ""


@dataclass(frozen=True)
class Remote:
    """A file a client named by URL: Dify fetches it itself."""

    url: str
    mimetype: str = ""


def file_inputs(parameters: Mapping[str, Any]) -> dict[str, FileInput]:
    """The file inputs of an app's form, by variable."""
    found: dict[str, FileInput] = {}
    form = parameters.get("user_input_form")
    for entry in form if isinstance(form, list) else []:
        if not isinstance(entry, Mapping) or len(entry) != 1:
            continue
        ((control, spec),) = entry.items()
        if control not in FILE_CONTROLS or not isinstance(spec, Mapping) or not isinstance(spec.get("variable"), str):
            continue
        types = spec.get("allowed_file_types")
        extensions = spec.get("allowed_file_extensions")
        limit = spec.get("max_length")
        found[spec["variable"]] = FileInput(
            variable=spec["variable"],
            many=control == "file-list",
            types=tuple(str(kind) for kind in types) if isinstance(types, list) else (),
            extensions=tuple(str(ext).lower() for ext in extensions) if isinstance(extensions, list) else (),
            max_files=limit if type(limit) is int and limit > 0 else None,
        )
    return found


def file_type(mimetype: str, filename: str = "") -> str:
    """Dify's kind of file: image, video, audio, or document (everything else)."""
    mimetype = mimetype or mimetypes.guess_type(filename)[0] or ""
    return next((kind for prefix, kind in _TYPES_BY_PREFIX if mimetype.startswith(prefix)), "document")


def check_files(target: FileInput, files: list[Upload | Remote]) -> None:
    """Refuse, before uploading anything, files the app's input would refuse."""
    if not target.many and len(files) > 1:
        raise invalid_request(f"{target.variable} takes one file; {len(files)} were sent.")
    if target.max_files is not None and len(files) > target.max_files:
        raise invalid_request(f"{target.variable} takes at most {target.max_files} files; {len(files)} were sent.")
    for file in files:
        name = file.filename if isinstance(file, Upload) else file.url
        kind = file_type(file.mimetype, name)
        extension = file.extension if isinstance(file, Upload) else _extension(file.url)
        allowed_kind = not target.types or kind in target.types
        allowed_extension = "custom" in target.types and extension in target.extensions
        if not (allowed_kind or allowed_extension):
            rule = ", ".join(target.types) + (f" ({', '.join(target.extensions)})" if target.extensions else "")
            raise invalid_request(f"{target.variable} takes {rule}; {shown(name)} is a {kind}.")


def to_parameters(session: Any, target: FileInput, files: list[Upload | Remote]) -> Any:
    """The input's value: each file uploaded (or named by URL); a list for a file list."""
    values = [_parameter(session, file) for file in files]
    return values if target.many else values[0]


def _parameter(session: Any, file: Upload | Remote) -> dict[str, Any]:
    if isinstance(file, Remote):
        return {"type": file_type(file.mimetype, file.url), "transfer_method": "remote_url", "url": file.url}
    try:
        uploaded = session.file.upload(file.filename, file.content, file.mimetype or "application/octet-stream")
    except Exception as exc:
        logger.warning("uploading %s to Dify failed: %s", shown(file.filename), exc)
        raise RelayError(
            502, "invocation_failed", f"The file {shown(file.filename)} could not be uploaded to Dify."
        ) from None
    return uploaded.to_app_parameter()


def _extension(url: str) -> str:
    tail = url.split("?", 1)[0].rsplit("/", 1)[-1]
    return ("." + tail.rsplit(".", 1)[-1].lower()) if "." in tail else ""


def attach_files(session: Any, call: Any, files: Mapping[str, list[Upload | Remote]], app_label: str) -> Any:
    """``call`` with each named file input set: checked against the app's form, then uploaded."""
    if not files:
        return call
    known = file_inputs(fetch_parameters(session, call.app_id))
    for variable in files:
        if variable not in known:
            offered = ", ".join(known) or "none"
            raise invalid_request(f"{shown(variable)} is not a file input of {app_label} (its file inputs: {offered}).")
    for variable, sent in files.items():
        check_files(known[variable], sent)
    inputs = dict(call.inputs)
    for variable, sent in files.items():
        inputs[variable] = to_parameters(session, known[variable], sent)
    return replace(call, inputs=inputs)
