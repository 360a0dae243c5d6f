"""A Responses API request, read and checked: what the app is asked, and how to answer.

``input`` is a string or a list of items: messages (``user``, ``assistant``, ``system``, ``developer``) whose
content is a string or parts (``input_text``, ``input_image``, ``input_file``; ``output_text`` and ``refusal`` in
an assistant message a client sends back). ``instructions`` become a system message at the head of the history:
the core's chat session applies to them the rule it applies to any system message. ``reasoning`` items a client
sends back are left out (Dify keeps no such thing); items of tool calls are refused: a Dify app calls its own
tools, and never one of the client's, so a client never has a call to answer.

Fields that a Dify app cannot honour but that change nothing the client relies on (sampling, ``reasoning``,
``text``, ``include``, ``truncation``, ``tools``...) are accepted and ignored, as are fields this surface does not
know; what would change the meaning of the request (a ``tool_choice`` that demands a call, ``background``, an
OpenAI ``conversation``, files by ``file_id``) is a clear 400, as is any field of the wrong type or size.
"""

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from relay.core.chat import ChatInput, Message
from relay.core.errors import RelayError, invalid_request, shown
from relay.core.files import DEFAULT_MIME_TYPE, Remote, Upload, file_from_url
from relay.openai_compat.request import optional_string

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
"""The roles of input messages, as the core's chat session calls them."""
TEXT_PARTS = frozenset({"input_text", "output_text"})
LEFT_OUT_ITEMS = frozenset({"reasoning"})
"""Items a client may send back that carry nothing for a Dify app: a model's reasoning (Dify keeps its own)."""
TOOL_ITEMS = frozenset(
    {
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "computer_call",
        "computer_call_output",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_list_tools",
        "file_search_call",
        "web_search_call",
        "image_generation_call",
        "code_interpreter_call",
        "tool_search_call",
    }
)
QUIET_TOOL_CHOICES = ("auto", "none")
"""``tool_choice`` values that let a model answer without calling a tool: the only ones a Dify app can honour."""
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
"""OpenAI's own bounds for ``metadata``, which every response echoes (and a kept one keeps)."""


@dataclass(frozen=True)
class ResponsesRequest:
    model: str
    chat: ChatInput
    """What the app is asked: the messages (instructions first), inputs..., for the core's chat session."""
    stream: bool = False
    store: bool = True
    metadata: dict[str, str] = field(default_factory=dict)
    previous_response_id: str | None = None


@dataclass(frozen=True)
class _File:
    """A file part, kept as it came until it is known to belong to the new message (earlier ones are history)."""

    url: str
    """An http(s) URL, or a data URL."""
    name: str
    """The upload's name: the part's ``filename``, else ``image-<n>`` / ``file-<n>`` plus its type's extension."""
    named: bool = False
    """Whether ``name`` is the client's own (kept as it is) rather than made up here."""
    default_type: str = ""
    image: bool = False


def parse_responses_request(body: Mapping[str, Any]) -> ResponsesRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model is required: the name (or id) of an app this endpoint serves.", "model")
    instructions = optional_string(body, "instructions")
    messages = _messages(body.get("input"))
    if instructions and instructions.strip():
        messages = [(Message("system", instructions), ()), *messages]
    if not messages:
        raise _invalid("input must hold a user message: it is what the app is asked.", "input")
    last, files = messages[-1]
    if last.role != "user" or not (last.text.strip() or files):
        raise _invalid(
            "The last item of input must be a user message with text (or files): it is what the app is asked.", "input"
        )
    question = replace(last, files=tuple(_file(part) for part in files))
    chat = ChatInput(
        messages=(*(message for message, _ in messages[:-1]), question),
        inputs=_inputs(body.get("inputs")),
        user=optional_string(body, "user"),
        query_input=optional_string(body, "query_input"),
        file_input=optional_string(body, "file_input"),
    )
    _check_tools(body)
    if body.get("background") not in (None, False):
        raise _invalid(
            "background must be false: a Dify app answers while the request is open (stream it instead).", "background"
        )
    if body.get("conversation") is not None:
        raise _invalid(
            "conversation is not supported: continue a response with previous_response_id, or send the history in "
            "input.",
            "conversation",
        )
    return ResponsesRequest(
        model=model.strip(),
        chat=chat,
        stream=_flag(body, "stream", default=False),
        store=_flag(body, "store", default=True),
        metadata=_metadata(body.get("metadata")),
        previous_response_id=optional_string(body, "previous_response_id"),
    )


def _messages(value: Any) -> list[tuple[Message, tuple[_File, ...]]]:
    if isinstance(value, str):
        return [(Message("user", value), ())]
    if not isinstance(value, list) or not value:
        raise _invalid("input must be a string or a non-empty list of items.", "input")
    found = []
    for index, item in enumerate(value):
        message = _item(item, f"input[{index}]")
        if message is not None:
            found.append(message)
    return found


def _item(item: Any, where: str) -> tuple[Message, tuple[_File, ...]] | None:
    if not isinstance(item, Mapping):
        raise _invalid(f"{where} must be an object: a message, or an item a response returned.", where)
    kind = item.get("type", "message")
    if kind in LEFT_OUT_ITEMS:
        return None
    if kind in TOOL_ITEMS:
        raise _invalid(
            f"{where}: {kind} items are not supported: a Dify app calls its own tools, and never asks the client to "
            "call one.",
            where,
        )
    if kind == "item_reference":
        raise _invalid(
            f"{where}: items are not kept by id here; send the item itself, or use previous_response_id.", where
        )
    if kind != "message":
        raise _invalid(f"{where} is an item of unknown type {shown(kind)}.", f"{where}.type")
    role = item.get("role")
    if role not in ROLES:
        raise _invalid(f"{where}.role {shown(role)} is not one of {', '.join(ROLES)}.", f"{where}.role")
    text, files = _content(item.get("content"), f"{where}.content")
    return Message(role=ROLES[role], text=text), files


def _content(content: Any, where: str) -> tuple[str, tuple[_File, ...]]:
    """A message's text (a string, or its text parts joined by new lines) and its file parts."""
    if content is None:
        return "", ()
    if isinstance(content, str):
        return content, ()
    if not isinstance(content, list):
        raise _invalid(f"{where} must be a string or a list of parts.", where)
    texts: list[str] = []
    files: list[_File] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        at = f"{where}[{index}]"
        if kind in TEXT_PARTS or kind == "refusal":
            text = part.get("refusal" if kind == "refusal" else "text")
            if not isinstance(text, str):
                raise _invalid(f"{at}: a {kind} part's text must be a string.", at)
            texts.append(text)
        elif kind == "input_image":
            files.append(_image(part, at, sum(1 for file in files if file.image) + 1))
        elif kind == "input_file":
            files.append(_input_file(part, at, sum(1 for file in files if not file.image) + 1))
        elif kind == "input_audio":
            raise _invalid(f"{at}: input_audio parts are not supported; send audio as an input_file.", at)
        else:
            raise _invalid(f"{at} is a part of unknown type {shown(kind)}.", at)
    return "\n".join(texts), tuple(files)


def _image(part: Mapping[str, Any], where: str, number: int) -> _File:
    url = part.get("image_url")
    if url is None and part.get("file_id") is not None:
        raise _invalid(f"{where}: file_id is not supported (there is no Files API here); send image_url.", where)
    if not isinstance(url, str) or not url.startswith(("data:", "http://", "https://")):
        raise _invalid(f"{where}: image_url must be a data: or http(s) URL.", where)
    return _File(url, f"image-{number}", default_type="image/png" if url.startswith("data:") else "image/*", image=True)


def _input_file(part: Mapping[str, Any], where: str, number: int) -> _File:
    """An ``input_file``: ``file_data`` (a data URL, or base64 with a ``filename``) or ``file_url``."""
    name = part.get("filename")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise _invalid(f"{where}: filename must be a non-empty string.", where)
    data, url = part.get("file_data"), part.get("file_url")
    if data is None and url is None:
        detail = "file_id is not supported (there is no Files API here); " if part.get("file_id") is not None else ""
        raise _invalid(f"{where}: {detail}send the file as file_data or file_url.", where)
    if data is not None:
        if not isinstance(data, str):
            raise _invalid(f"{where}: file_data must be a string (a data URL, or base64).", where)
        if not data.startswith("data:"):
            mimetype = (mimetypes.guess_type(name)[0] if name else None) or DEFAULT_MIME_TYPE
            data = f"data:{mimetype};base64,{data}"
        url = data
    elif not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _invalid(f"{where}: file_url must be an http(s) URL.", where)
    return _File(url, name.strip() if name else f"file-{number}", named=bool(name))


def _file(part: _File) -> Upload | Remote:
    """The new message's file: a data URL's content is served to Dify by the plugin, an http(s) URL Dify fetches."""
    found = file_from_url(part.url, part.name, part.default_type)
    if isinstance(found, Upload) and part.named:
        return replace(found, filename=part.name)
    return found


def _check_tools(body: Mapping[str, Any]) -> None:
    """Client tools are accepted and never called (a Dify app calls its own); a choice that demands a call is not."""
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _invalid("tools must be a list.", "tools")
    choice = body.get("tool_choice")
    if choice is None or choice in QUIET_TOOL_CHOICES:
        return
    if (
        isinstance(choice, Mapping)
        and choice.get("type") == "allowed_tools"
        and choice.get("mode", "auto") in QUIET_TOOL_CHOICES
    ):
        return
    if not isinstance(choice, str | Mapping):
        raise _invalid("tool_choice must be a string or an object.", "tool_choice")
    raise _invalid(
        f"tool_choice {shown(choice)} demands a tool call, and a Dify app never calls the client's tools (it calls "
        "its own, configured in Dify): use auto or none.",
        "tool_choice",
    )


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid("metadata must be an object of strings.", "metadata")
    if len(value) > MAX_METADATA_PAIRS:
        raise _invalid(f"metadata holds {len(value)} keys; at most {MAX_METADATA_PAIRS}.", "metadata")
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise _invalid(f"metadata key {shown(key)} is longer than {MAX_METADATA_KEY_CHARS} characters.", "metadata")
        if not isinstance(item, str):
            raise _invalid(f"metadata[{shown(key)}] must be a string.", "metadata")
        if len(item) > MAX_METADATA_VALUE_CHARS:
            raise _invalid(f"metadata[{shown(key)}] is longer than {MAX_METADATA_VALUE_CHARS} characters.", "metadata")
    return dict(value)


def _inputs(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid("inputs must be an object: the app's input variables.", "inputs")
    return dict(value)


def _flag(body: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be true or false.", name)
    return value


def _invalid(message: str, param: str) -> RelayError:
    return invalid_request(message, param)
