"""The one small chat-model interface: stream text deltas, then finish with usage."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from assistant.answer import Usage
from assistant.messages import ChatMessage, ModelRequest, Role

__all__ = [
    "ChatMessage",
    "ChatModel",
    "Finish",
    "ModelRequest",
    "Role",
    "StatusEvent",
    "StreamEvent",
    "TextDelta",
    "complete",
]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer text, in order."""

    text: str


@dataclass(frozen=True)
class Finish:
    """The last event of every stream that did not raise.

    `incomplete` is True when the stream was cut or cancelled before the model finished;
    `error` then says why (one line, no secrets).
    """

    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    incomplete: bool = False
    error: str | None = None


@dataclass(frozen=True)
class StatusEvent:
    """Progress the user should see while no text arrives (e.g. "retry 2 of 3"); not text."""

    message: str


StreamEvent = TextDelta | StatusEvent | Finish


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: `stream()` yields `TextDelta`s then exactly one `Finish`.

    `StatusEvent`s may come at any point before the `Finish` (waiting, retrying); they
    are for display only and carry no answer text.

    Failures before any text raise `assistant.errors.ModelError`; a stream cut after some
    text ends with `Finish(incomplete=True)` (the partial text is kept). Setting `cancel`
    stops the stream at the next delta with `Finish(finish_reason="cancelled",
    incomplete=True)`. `request` is the turn as data (task, numbered sources, question);
    endpoint models may ignore it, the offline model reads only it.
    """

    name: str
    context_window: int

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        request: ModelRequest | None = None,
    ) -> Iterator[StreamEvent]: ...


def complete(
    model: ChatModel,
    messages: list[ChatMessage],
    *,
    max_tokens: int,
    cancel: threading.Event | None = None,
    request: ModelRequest | None = None,
) -> tuple[str, Finish]:
    """Run a stream to the end and return the whole text with its `Finish`."""
    parts: list[str] = []
    finish = Finish(finish_reason="unknown", incomplete=True)
    for event in model.stream(messages, max_tokens=max_tokens, cancel=cancel, request=request):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, Finish):
            finish = event
    return "".join(parts), finish
