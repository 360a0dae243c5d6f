"""Where the last user message goes in a workflow or completion app, which takes inputs and no query.

An OpenAI client sends a message, not inputs, so one input must receive it. The rule (the README states it too):

1. the input named by ``query_input`` in the request;
2. else the app's only text input (``text-input`` or ``paragraph``);
3. else its only *required* text input (the optional ones stay empty, or come from ``inputs``);
4. else a 400 that lists the app's inputs, so the client can name one with ``query_input``.

So an unmodified client (Open WebUI, the ``openai`` SDK) can use any app with one text input, or one required one.
Images of the message go to a file input: the one named by ``file_input``, else the app's only file input, else
its only file input that takes images.
"""

import base64
import binascii
import functools
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote_to_bytes

from relay.core.errors import RelayError, invalid_request
from relay.core.files import Remote, Upload, file_inputs
from relay.core.invoke import fetch_parameters

TEXT_CONTROLS = ("text-input", "paragraph")


@dataclass(frozen=True)
class FormField:
    """One entry of an app's input form."""

    variable: str
    control: str
    required: bool

    @property
    def is_text(self) -> bool:
        return self.control in TEXT_CONTROLS

    def described(self) -> str:
        return f"{self.variable} ({self.control}{', required' if self.required else ''})"


class AppForm:
    """An app's input form, fetched from Dify the first time it is needed, and only then."""

    def __init__(self, session: Any, app_id: str, app_label: str) -> None:
        self.session = session
        self.app_id = app_id
        self.app_label = app_label

    @functools.cached_property
    def parameters(self) -> dict[str, Any]:
        return fetch_parameters(self.session, self.app_id)

    @functools.cached_property
    def fields(self) -> tuple[FormField, ...]:
        found: list[FormField] = []
        form = self.parameters.get("user_input_form")
        for entry in form if isinstance(form, list) else []:
            if not isinstance(entry, Mapping) or len(entry) != 1:
                continue
            ((control, spec),) = entry.items()
            if isinstance(spec, Mapping) and isinstance(spec.get("variable"), str):
                found.append(FormField(spec["variable"], str(control), spec.get("required") is True))
        return tuple(found)

    def message_input(self, query_input: str | None) -> str:
        """The input that receives the message's text, by the rule above."""
        if query_input is not None:
            return query_input
        texts = [field for field in self.fields if field.is_text]
        if len(texts) == 1:
            return texts[0].variable
        required = [field for field in texts if field.required]
        if len(required) == 1:
            return required[0].variable
        if texts:
            listed = ", ".join(field.described() for field in texts)
            reason = f"has {len(texts)} text inputs, {len(required)} of them required ({listed})"
        else:
            listed = ", ".join(field.described() for field in self.fields) or "none"
            reason = f"has no text input (its inputs: {listed})"
        raise _invalid(
            f'{self.app_label} {reason}: say which input receives the message with "query_input", and pass the '
            'others in "inputs".',
            "query_input",
        )

    def check_without_text(self, inputs: Mapping[str, Any]) -> None:
        """A message of images only fills no text input: refuse it if the app requires one that ``inputs`` lack
        (Dify would run the app with that input empty, or refuse it with less to go on)."""
        missing = [field.variable for field in self.fields if field.is_text and field.required]
        missing = [variable for variable in missing if variable not in inputs]
        if missing:
            raise _invalid(
                f"The last message has images but no text, and {self.app_label} requires the text input "
                f'{", ".join(missing)}: add text to the message, or pass it in "inputs".',
                "messages",
            )

    def image_input(self) -> str:
        """The input that receives the images: the app's only file input, or else its only one that takes images."""
        found = file_inputs(self.parameters)
        if len(found) == 1:
            return next(iter(found))
        for_images = [variable for variable, target in found.items() if not target.types or "image" in target.types]
        if len(for_images) == 1:
            return for_images[0]
        described = ", ".join(found) or "none"
        raise _invalid(
            f"{self.app_label} has {len(found)} file inputs ({described}): say which one receives the images with "
            '"file_input".',
            "file_input",
        )


def image_file(url: str, index: int) -> Upload | Remote:
    """An ``image_url``: a data URL is uploaded to Dify, an http(s) URL Dify fetches itself."""
    if not url.startswith("data:"):
        return Remote(url, mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/*")
    header, _, payload = url.partition(",")
    mimetype = header[5:].split(";", 1)[0] or "image/png"
    try:
        content = base64.b64decode(payload, validate=True) if ";base64" in header else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise invalid_request(f"Image {index} is not a valid base64 data URL.") from None
    extension = mimetypes.guess_extension(mimetype) or ".bin"
    return Upload(f"image-{index}{extension}", content, mimetype)


def _invalid(message: str, param: str) -> RelayError:
    return replace(invalid_request(message), param=param)
