"""Reading an HTTP request within bounds: its body, its query string and its form, for every surface.

Parsing happens before the caller is known (a form may carry the api key), on the one event loop every request
shares, so each reader checks its bound before it decodes anything (``relay.core.limits``).
"""

import json
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from werkzeug import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from relay.core.errors import invalid_request, payload_too_large, shown
from relay.core.files import Upload
from relay.core.limits import MAX_BODY_BYTES, MAX_FORM_FIELDS, MAX_KEY_BYTES, MAX_URLENCODED_BYTES

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# An empty POST leaves the daemon as a chunked body with only its terminator (Go's http.Request.Write sends
# a non-nil empty body chunked), and the SDK's parser drops Transfer-Encoding but keeps those five bytes.
_EMPTY_CHUNKED_BODY = b"0\r\n\r\n"


def body_of(request: Request) -> bytes:
    """The request body as the client sent it (the daemon's empty chunked body is no body)."""
    body = request.get_data(cache=True)
    return b"" if body == _EMPTY_CHUNKED_BODY else body


def check_body_size(request: Request) -> None:
    # The daemon already cut anything past 10 MiB, so the whole body is at hand to measure.
    if len(body_of(request)) > MAX_BODY_BYTES:
        raise payload_too_large(f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB.")


def is_form(request: Request) -> bool:
    return request.method == "POST" and request.mimetype in _FORM_TYPES and bool(body_of(request))


def query_fields(request: Request) -> dict[str, str]:
    """The query string's fields (the first value of each name), at most ``MAX_FORM_FIELDS`` of them."""
    cached = request.environ.get("relay.query_fields")
    if cached is None:
        cached = _urlencoded(request.query_string, "query string")
        request.environ["relay.query_fields"] = cached
    return cached


def form_fields(request: Request) -> dict[str, str]:
    """A form body's text fields (the first value of each name), parsed once and within bounds.

    The field count is checked before anything is decoded, so a hostile form costs next to nothing: this
    runs before the api key of a form POST can be checked, on the one event loop every request shares.
    """
    cached = request.environ.get("relay.form_fields")
    if cached is not None:
        return cached
    if not is_form(request):
        cached = {}
    elif request.mimetype == "multipart/form-data":
        cached, files = _multipart(request)
        request.environ["relay.form_files"] = files
    else:
        cached = _urlencoded(body_of(request), "form body")
    request.environ["relay.form_fields"] = cached
    return cached


def form_key(request: Request) -> str | None:
    """The ``api_key`` field of a form POST, found without parsing the form.

    This runs before the caller is known, on the one event loop every request shares: whatever the body holds,
    finding the key costs a few scans of it (about 1 ms per MiB), where decoding a hostile form costs seconds.
    The whole form is parsed only once the key is accepted.
    """
    if not is_form(request):
        return None
    body = body_of(request)
    if request.mimetype == "multipart/form-data":
        boundary = request.mimetype_params.get("boundary", "").encode("latin-1", "replace")
        raw = _multipart_value(body, boundary, b"api_key") if boundary else None
        return raw.decode("utf-8", "replace").strip() or None if raw is not None else None
    raw = _urlencoded_value(body, b"api_key")
    return unquote_plus(raw.decode("latin-1")).strip() or None if raw is not None else None


def _urlencoded_value(body: bytes, name: bytes) -> bytes | None:
    """The raw value of the first ``name=`` pair of an urlencoded body (two scans, nothing decoded)."""
    prefix = name + b"="
    if body.startswith(prefix):
        start = len(prefix)
    else:
        at = body.find(b"&" + prefix)
        if at < 0:
            return None
        start = at + 1 + len(prefix)
    end = body.find(b"&", start, start + MAX_KEY_BYTES + 1)
    value = body[start : end if end >= 0 else start + MAX_KEY_BYTES + 1]
    return value if len(value) <= MAX_KEY_BYTES else None


def _multipart_value(body: bytes, boundary: bytes, name: bytes) -> bytes | None:
    """The value of the text part ``name`` of a multipart body, as browsers, curl and HTTP libraries write it
    (``Content-Disposition: form-data; name="<name>"`` then a blank line); two scans, nothing decoded."""
    header = b'form-data; name="' + name + b'"\r\n\r\n'
    at = body.find(header)
    if at < 0:
        return None
    start = at + len(header)
    end = body.find(b"\r\n--" + boundary, start, start + MAX_KEY_BYTES + len(boundary) + 4)
    return body[start:end] if end >= 0 else None


def _urlencoded(data: bytes, where: str) -> dict[str, str]:
    if len(data) > MAX_URLENCODED_BYTES:
        raise payload_too_large(
            f"The {where} is larger than {MAX_URLENCODED_BYTES // 1024} KiB; send large inputs as JSON or multipart."
        )
    # parse_qsl counts the separators before decoding anything, so too many fields cost one scan.
    try:
        pairs = parse_qsl(data.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise invalid_request(f"The {where} is not valid UTF-8.") from None
    except ValueError:
        raise payload_too_large(f"The {where} has more than {MAX_FORM_FIELDS} fields.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def form_files(request: Request) -> dict[str, list[Upload]]:
    """The files of a multipart form, by part name (several parts may share one), parsed with its fields.

    A part without a file name and without content is a file field left empty (browsers send those) and is
    ignored; a part with only one of the two is a 400.
    """
    form_fields(request)
    return request.environ.get("relay.form_files") or {}


def _multipart(request: Request) -> tuple[dict[str, str], dict[str, list[Upload]]]:
    body = body_of(request)
    parser = FormDataParser(
        max_form_memory_size=MAX_BODY_BYTES,
        max_content_length=MAX_BODY_BYTES,
        max_form_parts=MAX_FORM_FIELDS,
        silent=False,
    )
    try:
        _, form, _files = parser.parse(BytesIO(body), request.mimetype, len(body), request.mimetype_params)
    except RequestEntityTooLarge:
        raise payload_too_large(f"The form body has more than {MAX_FORM_FIELDS} parts.") from None
    except (ValueError, UnicodeDecodeError):
        raise invalid_request("The multipart form body could not be read.") from None
    files: dict[str, list[Upload]] = {}
    for name, part in _files.items(multi=True):
        content = part.read()
        if not part.filename and not content:
            continue
        if not part.filename or not content:
            missing = "file name" if not part.filename else "content"
            raise invalid_request(f"The file part {shown(name)} has no {missing}.")
        files.setdefault(name, []).append(Upload(part.filename, content, part.mimetype or ""))
    return {name: form.get(name, "") for name in form}, files


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON body that must be an object."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise invalid_request("The JSON body nests too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_request(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise invalid_request('The JSON body must be an object such as {"inputs": {}}.')
    return value
