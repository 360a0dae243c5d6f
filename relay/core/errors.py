"""One error type for everything the relay refuses or fails at, mapped to the contract's status and code."""

from dataclasses import dataclass, field
from typing import Any

from relay.core.limits import MAX_ECHO_CHARS


@dataclass
class RelayError(Exception):
    """A refusal or a failure, as data: each surface renders it in its own shape (a status and a JSON error, an
    html page with a link, OpenAI's error object, a JSON-RPC error or a tool result).

    The core says what happened and to what; advice in a protocol's own words (a path, a field of its request
    format, a link) is the surface's to add, from ``reason``, ``app`` and ``app_kind``.
    """

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    request_field: str | None = None
    """The field of the request at fault, in the surface's own naming (OpenAI's error object calls it ``param``)."""
    reason: str | None = None
    """A finer reason than ``code``, for surfaces that advise: ``wrong_app_type`` (the app is of another type),
    ``blocking_unsupported`` and ``blocking_hides_error`` (what Dify does with a blocking call)."""
    app: str | None = None
    """The app concerned, as the endpoint names it."""
    app_kind: str | None = None
    """The type of app ``reason`` refers to (``chat``, ``workflow``, ``completion``)."""

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def shown(value: Any) -> str:
    """A client's value quoted in a message: ``repr`` cut to ``MAX_ECHO_CHARS``, so no answer grows with the input."""
    text = repr(value)
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 1] + "…"


def invalid_request(message: str, request_field: str | None = None) -> RelayError:
    return RelayError(400, "invalid_request", message, request_field=request_field)


def unauthorized(message: str) -> RelayError:
    return RelayError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def endpoint_not_configured() -> RelayError:
    return RelayError(
        403,
        "endpoint_not_configured",
        "This endpoint serves no app yet: its admin must list the apps it opens in the setting allowed_apps "
        "(or * for every app of the workspace).",
    )


def endpoint_misconfigured(message: str) -> RelayError:
    """A setting the plugin cannot read: said on every request until the admin fixes it, never ignored."""
    return RelayError(500, "endpoint_misconfigured", message)


def app_not_allowed(app_id: str) -> RelayError:
    return RelayError(403, "app_not_allowed", f"App {app_id} is not in this endpoint's allowed apps.")


def app_not_found(message: str) -> RelayError:
    return RelayError(404, "app_not_found", message)


def conversation_not_found(conversation_id: str) -> RelayError:
    return RelayError(
        404,
        "conversation_not_found",
        f"Conversation {shown(conversation_id)} does not exist for this app; leave conversation_id out to start "
        "a new one.",
    )


def payload_too_large(message: str) -> RelayError:
    return RelayError(413, "payload_too_large", message)


def invalid_input(message: str) -> RelayError:
    """Dify refused the call before the run, for something the caller sent (inputs, query, mode): Dify's sentence."""
    return RelayError(400, "invalid_input", message, {"x-should-retry": "false"})


def invocation_failed(message: str) -> RelayError:
    return RelayError(502, "invocation_failed", message)


GENERIC_FAILURE = "The app call failed inside the plugin; see the plugin log."


def internal_error() -> RelayError:
    """A fault of this plugin: the client learns nothing of it but that; the details go to the plugin log."""
    return RelayError(500, "internal_error", GENERIC_FAILURE)
