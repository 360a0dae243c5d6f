"""An OpenAI Chat Completions request, read and checked: what the app is asked, and how to answer.

Only what a Dify app can honour is accepted; anything that would be silently ignored in a way that changes the
meaning of the request (several choices, tools, audio or file parts) is a clear 400. Sampling parameters
(``temperature``, ``max_tokens``...) are ignored: the app's own model settings rule, as in Dify.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from relay.core.chat import ChatInput, Message
from relay.core.errors import RelayError, invalid_request, shown
from relay.core.files import Remote, Upload, file_from_url

ROLES = ("system", "developer", "user", "assistant")


@dataclass(frozen=True)
class ChatRequest:
    model: str
    chat: ChatInput
    """What the app is asked: the messages, inputs, conversation..., for the core's chat session."""
    stream: bool = False
    include_usage: bool = False


def parse_chat_request(body: Mapping[str, Any], conversation_header: str | None) -> ChatRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model is required: the name (or id) of an app this endpoint serves.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages must be a non-empty list.", "messages")
    parsed = tuple(_message(message, index) for index, message in enumerate(messages))
    last = parsed[-1]
    if last.role != "user" or not (last.text.strip() or last.files):
        raise _invalid(
            "The last message must be a user message with text (or images): it is what the app is asked.", "messages"
        )
    last = replace(last, files=tuple(_image(file.url, number) for number, file in enumerate(last.files, 1)))
    parsed = (*(replace(message, files=()) for message in parsed[:-1]), last)
    n = body.get("n", 1)
    if n is not None and (type(n) is not int or n != 1):
        raise _invalid("n must be 1: a Dify app gives one answer per call.", "n")
    for name in ("tools", "functions"):
        if body.get(name):
            raise _invalid(f"{name} is not supported: a Dify app calls its own tools, configured in Dify.", name)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("stream must be true or false.", "stream")
    options = body.get("stream_options")
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise _invalid("stream_options must be an object.", "stream_options")
    inputs = body.get("inputs")
    inputs = {} if inputs is None else inputs
    if not isinstance(inputs, Mapping):
        raise _invalid("inputs must be an object: the app's input variables.", "inputs")
    chat = ChatInput(
        messages=parsed,
        inputs=dict(inputs),
        user=optional_string(body, "user"),
        conversation_id=optional_string(body, "conversation_id") or (conversation_header or "").strip() or None,
        query_input=optional_string(body, "query_input"),
        file_input=optional_string(body, "file_input"),
    )
    return ChatRequest(
        model=model.strip(), chat=chat, stream=stream, include_usage=options.get("include_usage") is True
    )


def _message(value: Any, index: int) -> Message:
    where = f"messages[{index}]"
    if not isinstance(value, Mapping):
        raise _invalid(f"{where} must be an object with a role and a content.", where)
    role = value.get("role")
    if role == "tool" or value.get("tool_calls"):
        raise _invalid(f"{where}: tool messages are not supported: a Dify app calls its own tools.", where)
    if role not in ROLES:
        raise _invalid(f"{where}.role {shown(role)} is not one of {', '.join(ROLES)}.", f"{where}.role")
    text, images = _content(value.get("content"), where)
    # Only the new message's images go to the app (earlier ones are history): kept as URLs until then.
    return Message(
        role="system" if role == "developer" else role, text=text, files=tuple(Remote(url) for url in images)
    )


def _image(url: str, number: int) -> Upload | Remote:
    """An ``image_url``: a data URL is uploaded to Dify, an http(s) URL Dify fetches itself."""
    return file_from_url(url, f"image-{number}", "image/png" if url.startswith("data:") else "image/*")


def _content(content: Any, where: str) -> tuple[str, tuple[str, ...]]:
    """A message's text (a string, or its text parts joined by new lines) and its images' URLs."""
    if content is None:
        return "", ()
    if isinstance(content, str):
        return content, ()
    if not isinstance(content, list):
        raise _invalid(f"{where}.content must be a string or a list of parts.", f"{where}.content")
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str) or not url.startswith(("data:", "http://", "https://")):
                raise _invalid(f"{where}: an image_url must be a data: or http(s) URL.", f"{where}.content")
            images.append(url)
        elif kind in ("input_audio", "file"):
            raise _invalid(
                f"{where}: {kind} parts are not supported; send images as image_url parts.", f"{where}.content"
            )
        else:
            raise _invalid(f"{where}.content has a part of unknown type {shown(kind)}.", f"{where}.content")
    return "\n".join(texts), tuple(images)


def optional_string(body: Mapping[str, Any], name: str) -> str | None:
    """A top-level string field that may be absent or empty (the Dify extension's fields, ``user``...)."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string.", name)
    return value


def _invalid(message: str, param: str) -> RelayError:
    return invalid_request(message, param)
