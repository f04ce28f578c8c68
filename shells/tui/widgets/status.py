"""The status line: model, corpus size, the last answer's tokens and latency, indexing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label, ProgressBar

if TYPE_CHECKING:
    from assistant.answer import Answer

OFFLINE_NOTE = "built-in model, no API key"


def model_text(name: str) -> Content:
    """The model's name in bold."""
    return Content.from_markup("[b]$n[/b]", n=name)


def model_note(name: str) -> str:
    """`offline` is explained (on wide screens); other names need no note."""
    return f"· {OFFLINE_NOTE}" if name.split(":", 1)[0] == "offline" else ""


def usage_text(answer: Answer, *, show_timings: bool = True) -> str:
    """`1,204→96 tok · 0.4 s` (the latency is left out when `show_timings` is False)."""
    usage = answer.usage
    text = f"{usage.prompt_tokens:,}→{usage.completion_tokens:,} tok"
    total = answer.timings_ms.get("total")
    if show_timings and total is not None:
        text += f" · {total / 1000:.1f} s"
    return text


class StatusBar(Horizontal):
    """One line under the input; shows a progress bar while the seeds are indexed.

    On narrow screens the model's note and the latency are left out (CSS and `compact`),
    so that what remains fits without cutting words."""

    def __init__(self, *, show_timings: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_timings = show_timings
        self._model = Label("", id="status-model")
        self._note = Label("", id="status-note")
        self._last: Answer | None = None
        self.compact = False
        self._corpus = Label("opening the index…", id="status-corpus")
        self._bar = ProgressBar(id="status-progress", show_eta=False)
        self._usage = Label("", id="status-usage")

    def compose(self) -> ComposeResult:
        yield self._model
        yield self._note
        yield self._corpus
        yield self._bar
        yield self._usage

    def set_model(self, name: str) -> None:
        """Show the model in use."""
        self._model.update(model_text(name))
        self._note.update(model_note(name))

    def set_corpus(self, size: int | None, note: str | None = None) -> None:
        """Show the number of indexed papers (or a note such as an error)."""
        label = self._corpus
        if note is not None:
            label.update(note)
        else:
            label.update(f"{size} papers" if size is not None else "")

    def set_usage(self, answer: Answer | None) -> None:
        """Show the last answer's tokens (and latency, unless compact)."""
        self._last = answer
        timings = self.show_timings and not self.compact
        text = usage_text(answer, show_timings=timings) if answer else ""
        self._usage.update(text)

    def set_compact(self, compact: bool) -> None:
        """Narrow screen: fewer words."""
        if compact != self.compact:
            self.compact = compact
            self.set_usage(self._last)

    def show_progress(self, done: int, total: int) -> None:
        """Indexing progress; the bar appears on the first call."""
        self.add_class("-indexing")
        self._bar.update(total=total, progress=done)
        self.set_corpus(None, note="indexing the seeds")

    def hide_progress(self) -> None:
        """Indexing is over."""
        self.remove_class("-indexing")
