"""The OpenAI-compatible surface: every app ``allowed_apps`` lists is a model, for the clients people already use."""

from relay.openai_compat.handler import chat_completions, list_models

__all__ = ["chat_completions", "list_models"]
