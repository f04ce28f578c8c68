"""`make_chat_model`: a model name to a `ChatModel`.

- `offline`: the built-in offline model.
- `offline:<misbehaviour>`: the offline model told to misbehave (see `MISBEHAVIOURS`).
- anything else: a model served by the OpenAI-compatible endpoint in the settings.

`Settings.context_window` (RA_CONTEXT_WINDOW), when set, overrides the model's window;
else an endpoint model asks its server, then the known-models table, then assumes 4096.
`context_window_info` says which (for `ra config`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistant.budget import OFFLINE_CONTEXT_WINDOW
from assistant.chat.base import ChatModel
from assistant.chat.offline import MISBEHAVIOURS, OfflineChatModel
from assistant.config import Settings

__all__ = ["BACKENDS", "MISBEHAVIOURS", "Backend", "context_window_info", "make_chat_model"]


def _offline(settings: Settings, name: str) -> ChatModel:
    misbehaviour = name.split(":", 1)[1] if ":" in name else None
    model = OfflineChatModel(misbehaviour or None)
    if settings.context_window:
        model.context_window = settings.context_window
    return model


def _openai_compatible(settings: Settings, name: str) -> ChatModel:
    from assistant.chat.openai_chat import OpenAIChatModel

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIChatModel(
        name,
        api_key=key,
        base_url=settings.openai_base_url,
        context_window=settings.context_window,
        timeout=settings.request_timeout,
        connect_timeout=settings.connect_timeout,
        total_timeout=settings.total_timeout,
        max_retries=settings.max_retries,
    )


@dataclass(frozen=True)
class Backend:
    """One kind of chat model: which names it serves and how to build one.

    Context windows come from the model's own server where it says, else from
    `assistant.budget.KNOWN_CONTEXT_WINDOWS` (one table, by model-name substring).
    """

    name: str
    serves: Callable[[str], bool]
    build: Callable[[Settings, str], ChatModel]


# Adding a backend is one entry; the first whose `serves` accepts the name wins.
BACKENDS: tuple[Backend, ...] = (
    Backend("offline", lambda n: n == "offline" or n.startswith("offline:"), _offline),
    Backend("openai-compatible", lambda n: True, _openai_compatible),
)


def make_chat_model(settings: Settings, name: str | None = None) -> ChatModel:
    """The chat model called `name` (default: `settings.resolved_model`)."""
    name = (name or settings.resolved_model).strip()
    backend = next(b for b in BACKENDS if b.serves(name))
    return backend.build(settings, name)


def context_window_info(settings: Settings, name: str | None = None) -> tuple[int, str]:
    """(tokens, source) of the model's context window, e.g. `(2048, "server: llama.cpp
    /props n_ctx")`; source is one of RA_CONTEXT_WINDOW, a server report, the
    known-models table, the built-in offline model, or the default for an unknown model.

    May ask the server (a few seconds at most when it does not answer).
    """
    model = make_chat_model(settings, name)
    if settings.context_window:
        return model.context_window, "RA_CONTEXT_WINDOW"
    source = getattr(model, "context_window_source", None)
    if source is None:  # the offline model
        return OFFLINE_CONTEXT_WINDOW, "built-in offline model"
    return model.context_window, str(source)
