"""`make_chat_model`: a model name to a `ChatModel`.

- `offline`: the built-in offline model.
- `offline:<misbehaviour>`: the offline model told to misbehave (see `MISBEHAVIOURS`).
- anything else: a model served by the OpenAI-compatible endpoint in the settings.

`Settings.context_window` (RA_CONTEXT_WINDOW), when set, overrides the model's window.
"""

from __future__ import annotations

from assistant.budget import context_window_for
from assistant.chat.base import ChatModel
from assistant.chat.offline import MISBEHAVIOURS, OfflineChatModel
from assistant.config import Settings

__all__ = ["MISBEHAVIOURS", "make_chat_model"]


def make_chat_model(settings: Settings, name: str | None = None) -> ChatModel:
    """The chat model called `name` (default: `settings.resolved_model`)."""
    name = (name or settings.resolved_model).strip()
    if name == "offline" or name.startswith("offline:"):
        misbehaviour = name.split(":", 1)[1] if ":" in name else None
        model = OfflineChatModel(misbehaviour or None)
        if settings.context_window:
            model.context_window = settings.context_window
        return model
    from assistant.chat.openai_chat import OpenAIChatModel

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIChatModel(
        name,
        api_key=key,
        base_url=settings.openai_base_url,
        context_window=context_window_for(name, settings.context_window),
        timeout=settings.request_timeout,
        max_retries=settings.max_retries,
    )
