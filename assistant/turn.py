"""The streaming part of a turn: timings, the model stream, partial answers kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from assistant.answer import Usage
from assistant.budget import BuiltPrompt
from assistant.chat.base import ChatModel, Finish, TextDelta
from assistant.errors import ModelError
from retrieval.tokens import count_tokens

DeltaCallback = Callable[[str], None]


class Clock:
    """Stage timings in milliseconds, plus the time spent inside the model."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.model_s = 0.0

    def ms_since_start(self) -> float:
        return (time.perf_counter() - self.start) * 1000

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(
                self.timings.get(name, 0.0) + (time.perf_counter() - t0) * 1000, 3
            )


def stream_answer(
    model: ChatModel,
    built: BuiltPrompt,
    clock: Clock,
    on_delta: DeltaCallback | None,
    cancel: threading.Event | None,
    max_tokens: int,
) -> tuple[str, Finish]:
    """Stream the answer; a failure after some text keeps it, marked incomplete."""
    parts: list[str] = []
    finish: Finish | None = None
    callback_s = 0.0
    t0 = time.perf_counter()
    stream = model.stream(
        built.messages, max_tokens=max_tokens, cancel=cancel, request=built.request
    )
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                if not parts:
                    clock.timings["first_token"] = round(clock.ms_since_start(), 3)
                parts.append(event.text)
                if on_delta is not None:
                    c0 = time.perf_counter()
                    on_delta(event.text)
                    callback_s += time.perf_counter() - c0
            else:
                finish = event
            if cancel is not None and cancel.is_set() and finish is None:
                finish = partial_finish(built, parts, "cancelled", None)
                break
    except ModelError as exc:
        if not parts:
            raise
        finish = partial_finish(built, parts, "error", exc.message)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        clock.model_s += time.perf_counter() - t0 - callback_s
    if finish is None:
        finish = partial_finish(built, parts, "error", "the model stream ended early")
    return "".join(parts), finish


def partial_finish(built: BuiltPrompt, parts: list[str], reason: str, error: str | None) -> Finish:
    usage = Usage(prompt_tokens=built.prompt_tokens, completion_tokens=count_tokens("".join(parts)))
    return Finish(usage=usage, finish_reason=reason, incomplete=True, error=error)
