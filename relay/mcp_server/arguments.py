"""A ``tools/call``'s arguments as an app call: the query and conversation of a chat app, its inputs, its files.

A file input takes ``{"url"}`` (Dify fetches it) or ``{"data", "mimeType", "name"}`` with the content in base64
(uploaded to Dify); a file list takes an array of them.
"""

import base64
import binascii
import mimetypes
from typing import Any

from relay.core.apps import AppKind
from relay.core.errors import invalid_request
from relay.core.files import Remote, Upload


def split_arguments(kind: AppKind, arguments: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """``(query, conversation_id, inputs)`` from a call's arguments."""
    inputs = dict(arguments)
    query = inputs.pop("query", None) if kind.takes_query else None
    conversation_id = inputs.pop("conversation_id", None) if kind.takes_query else None
    return (
        query if isinstance(query, str) else None,
        conversation_id if isinstance(conversation_id, str) and conversation_id else None,
        inputs,
    )


def file_arguments(inputs: dict[str, Any], file_variables: set[str]) -> dict[str, list[Upload | Remote]]:
    """The files a call's arguments give its file inputs (which are then taken out of ``inputs``)."""
    found: dict[str, list[Upload | Remote]] = {}
    for variable in file_variables & set(inputs):
        value = inputs.pop(variable)
        items = value if isinstance(value, list) else [value]
        found[variable] = [_file(variable, item) for item in items]
    return found


def _file(variable: str, item: Any) -> Upload | Remote:
    if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"].startswith(("http://", "https://")):
        return Remote(item["url"], str(item.get("mimeType") or ""))
    if isinstance(item, dict) and isinstance(item.get("data"), str):
        try:
            content = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid_request(f"{variable}: data is not valid base64.") from None
        mimetype = str(item.get("mimeType") or "application/octet-stream")
        name = str(item.get("name") or f"{variable}{mimetypes.guess_extension(mimetype) or ''}")
        return Upload(name, content, mimetype)
    raise invalid_request(f"{variable} takes a file: an object with an http(s) url, or base64 data.")
