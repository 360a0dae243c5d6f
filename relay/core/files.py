"""Files to apps: checked against the app's rules, passed on as the app's file inputs, by URL.

Dify takes files from a plugin only as input variables, and reads only the ones it fetches itself, over the
network (measured: a plugin's upload through ``session.file.upload`` never reaches an app readable). So every file
goes as ``{"type", "transfer_method": "remote_url", "url"}``: a file the client named by URL as it is, a file the
client sent as bytes at an address the plugin serves while the app runs (``relay.core.served``).

First every file's name and type are bounded (``bounded``): they go into the app's input and the address, and a
name or type Dify reads otherwise than it was sent would not match. Then the files are checked against the input's
rules from the app's form (``allowed_file_types``, ``allowed_file_extensions``, the number a file list takes, the
extension lists of Dify's file types), with a 400 naming the rule, before anything reaches Dify.
"""

import base64
import binascii
import logging
import mimetypes
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from relay.core.errors import invalid_request, shown
from relay.core.limits import MAX_FILE_NAME_BYTES, MAX_MIME_TYPE_CHARS
from relay.core.parameters import InputField

if TYPE_CHECKING:
    from relay.core.dify import Dify

logger = logging.getLogger(__name__)

_TYPES_BY_PREFIX = (("image/", "image"), ("video/", "video"), ("audio/", "audio"), ("text/", "document"))

EXTENSIONS_BY_TYPE: dict[str, frozenset[str]] = {
    "image": frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".svg"}),
    "video": frozenset({".mp4", ".mov", ".mpeg", ".webm"}),
    "audio": frozenset({".mp3", ".m4a", ".wav", ".amr", ".mpga"}),
    "document": frozenset(
        {".txt", ".markdown", ".md", ".mdx", ".pdf", ".html", ".htm", ".xlsx", ".xls", ".vtt", ".properties"}
        | {".doc", ".docx", ".csv", ".eml", ".msg", ".pptx", ".ppt", ".xml", ".epub"}
    ),
}
"""Dify's own lists (``api/constants``, any case): the extension decides a file's type, as Dify decides it when it
builds the input; an extension in none of them makes a ``custom`` file, which only a ``custom`` input lets in, by
its extension. The document list is the larger one a Dify with the Unstructured ETL reads."""

_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
"""``type/subtype`` in RFC 6838's restricted names, lower-cased as werkzeug gives it to Dify."""
DEFAULT_MIME_TYPE = "application/octet-stream"


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


def file_type(mimetype: str, filename: str = "") -> str:
    """Dify's type of a file: by its extension in Dify's lists; a file without one by its MIME type (image, video,
    audio, text: document); anything else ``custom``."""
    extension = _extension(filename)
    if extension:
        return next((kind for kind, known in EXTENSIONS_BY_TYPE.items() if extension in known), "custom")
    mimetype = mimetype or ""
    if mimetype == "application/pdf":
        return "document"
    return next((kind for prefix, kind in _TYPES_BY_PREFIX if mimetype.startswith(prefix)), "custom")


def bounded(file: Upload | Remote) -> Upload | Remote:
    """An upload as Dify will take it back, or a 400 that names the rule it breaks.

    The name loses any folders a client put before it (old browsers send ``C:\\...``, and werkzeug drops the
    backslashes of a quoted name, so Dify would read another name than the one signed), and a ``%22`` in it becomes
    the ``"`` werkzeug would read there (the SDK writes ``"`` as ``%22``, as browsers do); the type loses its
    parameters and case (Dify verifies the signature against werkzeug's ``mimetype``, which has neither), and a
    missing type is guessed from the name.
    """
    if isinstance(file, Remote):
        return file
    name = re.split(r"[/\\]", file.filename)[-1].replace("%22", '"').strip()
    if not name:
        raise invalid_request(f"The file {shown(file.filename)} has no name once its folders are left out.")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES:
        raise invalid_request(f"The file name {shown(name)} is too long: at most {MAX_FILE_NAME_BYTES} bytes (UTF-8).")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise invalid_request(f"The file name {shown(name)} contains control characters or lone surrogates.")
    mimetype = file.mimetype.split(";", 1)[0].strip().lower()
    if not mimetype:
        mimetype = mimetypes.guess_type(name)[0] or DEFAULT_MIME_TYPE
    if len(mimetype) > MAX_MIME_TYPE_CHARS or not _MIME_TYPE.fullmatch(mimetype):
        raise invalid_request(
            f"The file {shown(name)} has the type {shown(mimetype)}: a file's type must be a MIME type "
            f"(type/subtype, at most {MAX_MIME_TYPE_CHARS} characters)."
        )
    return replace(file, filename=name, mimetype=mimetype)


def check_files(target: InputField, files: list[Upload | Remote]) -> None:
    """Refuse, before uploading anything, files the app's input would refuse."""
    if not target.many and len(files) > 1:
        raise invalid_request(f"{target.variable} takes one file; {len(files)} were sent.")
    if target.many and target.max_files is not None and len(files) > target.max_files:
        raise invalid_request(f"{target.variable} takes at most {target.max_files} files; {len(files)} were sent.")
    for file in files:
        name = file.filename if isinstance(file, Upload) else file.url
        kind = file_type(file.mimetype, name)
        extension = _extension(name)
        # "custom" in an input's types lets in the extensions it lists, not every file of no known type.
        allowed_kind = not target.file_types or (kind != "custom" and kind in target.file_types)
        allowed_extension = "custom" in target.file_types and extension in target.file_extensions
        if not (allowed_kind or allowed_extension):
            rule = ", ".join(target.file_types) + (
                f" ({', '.join(target.file_extensions)})" if target.file_extensions else ""
            )
            what = "of a type Dify does not know (custom)" if kind == "custom" else f"a {kind}"
            raise invalid_request(f"{target.variable} takes {rule}; {shown(name)} is {what}.")


def to_parameters(dify: "Dify", target: InputField, files: list[Upload | Remote]) -> Any:
    """The input's value: each file uploaded (or named by URL); a list for a file list."""
    values = [_parameter(dify, target, file) for file in files]
    return values if target.many else values[0]


def dify_type(target: InputField, file: Upload | Remote) -> str:
    """The ``type`` the app's input takes the file as: its kind when the input allows that kind, else ``custom``
    (it was let in by its extension). Dify refuses a file whose type the input does not list, unless it is
    ``custom``: a ``.md`` link sent as a document to an input that takes only ``custom`` ``.md`` files would fail."""
    kind = file_type(file.mimetype, file.filename if isinstance(file, Upload) else file.url)
    return kind if not target.file_types or kind in target.file_types else "custom"


def _parameter(dify: "Dify", target: InputField, file: Upload | Remote) -> dict[str, Any]:
    """A file as the app's input takes it: by URL, which Dify fetches (the plugin serves a file sent as bytes
    itself: ``relay.core.served``)."""
    url = file.url if isinstance(file, Remote) else dify.file_url(file.content, file.mimetype, file.filename)
    return {"type": dify_type(target, file), "transfer_method": "remote_url", "url": url}


def _extension(name: str) -> str:
    """A file name's or URL's extension, lower case with its dot; ``""`` when it has none."""
    tail = name.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    return ("." + tail.rsplit(".", 1)[-1].lower()) if "." in tail else ""


def attach_files(dify: "Dify", call: Any, files: Mapping[str, list[Upload | Remote]], app_label: str) -> Any:
    """``call`` with each named file input set: checked against the app's form, then uploaded."""
    if not files:
        return call
    files = {variable: [bounded(file) for file in sent] for variable, sent in files.items()}
    known = dify.parameters(call.app_id).file_inputs()
    for variable in files:
        if variable not in known:
            offered = ", ".join(known) or "none"
            raise invalid_request(f"{shown(variable)} is not a file input of {app_label} (its file inputs: {offered}).")
    for variable, sent in files.items():
        check_files(known[variable], sent)
    inputs = dict(call.inputs)
    for variable, sent in files.items():
        inputs[variable] = to_parameters(dify, known[variable], sent)
    return replace(call, inputs=inputs)


def file_from_url(url: str, name: str, default_type: str = "") -> Upload | Remote:
    """A file a client gives by URL: a ``data:`` URL is its content (uploaded to Dify, named ``name`` plus the
    extension of its type), an http(s) URL Dify fetches itself."""
    if not url.startswith("data:"):
        return Remote(url, mimetypes.guess_type(url.split("?", 1)[0])[0] or default_type)
    header, _, payload = url.partition(",")
    mimetype = header[5:].split(";", 1)[0] or default_type or DEFAULT_MIME_TYPE
    try:
        content = base64.b64decode(payload, validate=True) if ";base64" in header else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise invalid_request(f"{name} is not a valid base64 data URL.") from None
    return Upload(f"{name}{mimetypes.guess_extension(mimetype) or '.bin'}", content, mimetype)
