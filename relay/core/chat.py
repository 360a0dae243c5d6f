"""The chat session: a message history, as chat-shaped surfaces receive it, turned into one Dify app call.

Chat clients send messages (system, user, assistant), the last one the new user message with its text and files;
Dify apps take a query, inputs and a conversation. For every chat-shaped surface (OpenAI's Chat Completions, its
Responses API...) this service decides, in one place:

* **chat-type apps**: the new message is the query; the conversation is the one the caller named (a bearer
  capability: whoever knows a conversation id may continue it), else the one this caller's history belongs to
  (``relay.core.conversations``), else a new one with the earlier messages sent along as context. System
  messages (and a surface's instructions, which are the same thing) are part of that history;
* **workflow and completion apps**, which take no query: the message goes into one input, by this rule —
  ``query_input`` if the client names one; else the app's only text input; else its only required text input;
  else a 400 listing the inputs;
* **files** of the new message go to the file input named by ``file_input``, else the app's only file input,
  else its only one that takes images; checked against the input's rules, then uploaded or passed by URL.

Errors name the request's field neutrally (``message``, ``inputs``, ``query_input``, ``file_input``): each surface
says it in its own words.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from relay.core.access import Caller
from relay.core.apps import AppKind
from relay.core.calls import AppCall, ResponseMode, check_call_size
from relay.core.catalog import App
from relay.core.conversations import ConversationStore, Turn, with_context
from relay.core.dify import Dify
from relay.core.errors import RelayError, invalid_request, shown
from relay.core.failures import NO_RETRY
from relay.core.files import Remote, Upload, attach_files
from relay.core.parameters import AppParameters

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: str
    """``system``, ``user`` or ``assistant`` (a surface maps its own roles onto these)."""
    text: str
    files: tuple[Upload | Remote, ...] = ()


@dataclass(frozen=True)
class ChatInput:
    """What a chat-shaped request asks of an app, in the surface's terms already read."""

    messages: tuple[Message, ...]
    """The history, the new user message last."""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    user: str | None = None
    conversation_id: str | None = None
    """A Dify conversation the client names explicitly."""
    query_input: str | None = None
    file_input: str | None = None

    @property
    def question(self) -> Message:
        return self.messages[-1]

    @property
    def history(self) -> tuple[Message, ...]:
        return self.messages[:-1]


class ChatSession:
    """One chat request to one app, for one caller."""

    def __init__(self, dify: Dify, app: App, kind: AppKind, caller: Caller) -> None:
        self.dify = dify
        self.app = app
        self.kind = kind
        self.caller = caller
        self.store = ConversationStore(dify.storage, dify.endpoint_id) if kind.takes_query else None

    def call(self, chat: ChatInput) -> AppCall:
        """The Dify call for ``chat`` (always streaming: it keeps a model error's own text, and agent apps answer
        no other way), files attached, size checked."""
        text = chat.question.text if chat.question.text.strip() else ""
        call = self._chat_call(chat, text) if self.kind.takes_query else self._input_call(chat, text)
        files = chat.question.files
        if files:
            target = chat.file_input or self._file_input(self.dify.parameters(self.app.app_id))
            call = attach_files(self.dify, call, {target: list(files)}, self.app.label)
        check_call_size(call)
        return call

    def remember(self, chat: ChatInput, answer: str, conversation_id: str | None) -> None:
        """After a whole answer: the history including it belongs to ``conversation_id``, for this caller."""
        if self.store is None or not conversation_id:
            return
        turns = [*_turns(chat.messages), Turn("assistant", answer)]
        self.store.remember(self.store.history_key(self.caller, self.app.app_id, chat.user, turns), conversation_id)

    def _chat_call(self, chat: ChatInput, text: str) -> AppCall:
        if not text:
            raise invalid_request(
                f"{self.app.label} is a chat app, and Dify asks a chat app in words: add text to the files.", "message"
            )
        conversation_id, query = chat.conversation_id, text
        earlier = [message for message in chat.history if message.text.strip()]
        if conversation_id is None and earlier and self.store is not None:
            key = self.store.history_key(self.caller, self.app.app_id, chat.user, _turns(chat.history))
            conversation_id = self.store.recall(key)
        if conversation_id is None and earlier:
            query = with_context(_turns(chat.history), text)
        return AppCall(
            app_id=self.app.app_id,
            inputs=dict(chat.inputs),
            query=query,
            conversation_id=conversation_id,
            user=chat.user,
            response_mode=ResponseMode.STREAMING,
        )

    def _input_call(self, chat: ChatInput, text: str) -> AppCall:
        inputs = dict(chat.inputs)
        parameters = self.dify.parameters(self.app.app_id)
        if text:
            inputs[self._message_input(parameters, chat.query_input)] = text
        else:
            self._check_without_text(parameters, inputs)
        return AppCall(app_id=self.app.app_id, inputs=inputs, user=chat.user, response_mode=ResponseMode.STREAMING)

    def _message_input(self, parameters: AppParameters, named: str | None) -> str:
        """The input that receives the message's text, by the rule above."""
        if named is not None:
            if parameters.input(named) is None:
                listed = ", ".join(item.described() for item in parameters.inputs) or "none"
                raise invalid_request(
                    f"query_input names {shown(named)}, which is not an input of {self.app.label} (its inputs: "
                    f"{listed}).",
                    "query_input",
                )
            return named
        texts = parameters.text_inputs()
        if len(texts) == 1:
            return texts[0].variable
        required = [item for item in texts if item.required]
        if len(required) == 1:
            return required[0].variable
        if texts:
            listed = ", ".join(item.described() for item in texts)
            reason = f"has {len(texts)} text inputs, {len(required)} of them required ({listed})"
        else:
            listed = ", ".join(item.described() for item in parameters.inputs) or "none"
            reason = f"has no text input (its inputs: {listed})"
        raise invalid_request(
            f"{self.app.label} {reason}: say which input receives the message with query_input, and pass the "
            "others in inputs.",
            "query_input",
        )

    def _check_without_text(self, parameters: AppParameters, inputs: Mapping[str, Any]) -> None:
        """A message of files only fills no text input: refuse it if the app requires one that ``inputs`` lack
        (Dify would run the app with that input empty, or refuse it with less to go on)."""
        missing = [item.variable for item in parameters.text_inputs() if item.required and item.variable not in inputs]
        if missing:
            raise invalid_request(
                f"The last message has files but no text, and {self.app.label} requires the text input "
                f"{', '.join(missing)}: add text to the message, or pass it in inputs.",
                "message",
            )

    def _file_input(self, parameters: AppParameters) -> str:
        """The input that receives the files: the app's only file input, or else its only one that takes images."""
        found = parameters.file_inputs()
        if len(found) == 1:
            return next(iter(found))
        for_images = [name for name, item in found.items() if not item.file_types or "image" in item.file_types]
        if len(for_images) == 1:
            return for_images[0]
        described = ", ".join(found) or "none"
        raise invalid_request(
            f"{self.app.label} has {len(found)} file inputs ({described}): say which one receives the files with "
            "file_input.",
            "file_input",
        )


def app_failure(error: Mapping[str, Any]) -> RelayError:
    """The app's own error before its first word (a model's quota, a failed run...): a bad gateway, with Dify's
    code and message."""
    code = error.get("code")
    message = error.get("message")
    return RelayError(
        502,
        code if isinstance(code, str) and code else "invocation_failed",
        str(message) if message else "The app failed.",
        dict(NO_RETRY),  # a model's quota, missing credentials, a failed run: the same call fails the same way
    )


def _turns(messages: Sequence[Message]) -> list[Turn]:
    return [Turn(message.role, message.text) for message in messages]
