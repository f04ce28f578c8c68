"""The streaming part of a turn: timings, the model stream, secrets masked, partial answers
kept (on a cut stream, a cancel or Ctrl-C)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from assistant.answer import Usage
from assistant.budget import BuiltPrompt
from assistant.chat.base import ChatModel, Finish, StatusEvent, TextDelta
from assistant.errors import ModelError
from assistant.redact import StreamMasker, mask
from retrieval.tokens import count_tokens

DeltaCallback = Callable[[str], None]
# Progress while no text arrives ("waiting for the model ..., retry 2 of 3"): CLI stderr, TUI
# status bar.
StatusCallback = Callable[[str], None]
# The stage a shell shows between "searching" and the first words (the chat's status bar;
# the CLI, which streams the words themselves, leaves it out).
WAITING_FOR_MODEL = "waiting for the model…"


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
    *,
    on_status: StatusCallback | None = None,
    secrets: Sequence[str] = (),
) -> tuple[str, Finish]:
    """Stream the answer; a failure or Ctrl-C after some text keeps it, marked incomplete.

    Every secret is masked in the text before `on_delta` sees it (a key split across
    deltas included). A KeyboardInterrupt after some text ends the stream with
    `Finish(finish_reason="interrupted")`; before any text it propagates.
    """
    parts: list[str] = []
    masker = StreamMasker(secrets)
    finish: Finish | None = None
    callback_s = 0.0
    t0 = time.perf_counter()

    def show(text: str) -> None:
        nonlocal callback_s
        if not text:
            return
        if not parts:
            clock.timings["first_token"] = round(clock.ms_since_start(), 3)
        parts.append(text)
        if on_delta is not None:
            c0 = time.perf_counter()
            on_delta(text)
            callback_s += time.perf_counter() - c0

    stream = model.stream(
        built.messages, max_tokens=max_tokens, cancel=cancel, request=built.request
    )
    try:
        try:
            for event in stream:
                if isinstance(event, TextDelta):
                    show(masker.feed(event.text))
                elif isinstance(event, StatusEvent):
                    if on_status is not None:
                        on_status(mask(event.message, secrets))
                else:
                    finish = event
                if cancel is not None and cancel.is_set() and finish is None:
                    finish = partial_finish(built, parts, "cancelled", None)
                    break
        except ModelError as exc:
            if not parts and not masker.pending:
                raise
            finish = partial_finish(built, parts, "error", exc.message)
        except KeyboardInterrupt:
            if not parts and not masker.pending:
                raise
            finish = partial_finish(built, parts, "interrupted", "interrupted by the user")
        show(masker.flush())
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        clock.model_s += time.perf_counter() - t0 - callback_s
    if finish is None:
        finish = partial_finish(built, parts, "error", "the model stream ended early")
    return "".join(parts), finish


def partial_finish(built: BuiltPrompt, parts: list[str], reason: str, error: str | None) -> Finish:
    usage = Usage(
        prompt_tokens=built.prompt_tokens,
        completion_tokens=count_tokens("".join(parts)),
        estimated=True,
    )
    return Finish(usage=usage, finish_reason=reason, incomplete=True, error=error)
