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
    """`offline` is explained; any other name is shown as is."""
    if name.split(":", 1)[0] == "offline":
        return Content.from_markup("[b]$n[/b] [dim]· $note[/dim]", n=name, note=OFFLINE_NOTE)
    return Content.from_markup("[b]$n[/b]", n=name)


def usage_text(answer: Answer, *, show_timings: bool = True) -> str:
    """`1,204→96 tok · 0.4 s` (the latency is left out when `show_timings` is False)."""
    usage = answer.usage
    text = f"{usage.prompt_tokens:,}→{usage.completion_tokens:,} tok"
    total = answer.timings_ms.get("total")
    if show_timings and total is not None:
        text += f" · {total / 1000:.1f} s"
    return text


class StatusBar(Horizontal):
    """One line under the input; shows a progress bar while the seeds are indexed."""

    def __init__(self, *, show_timings: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_timings = show_timings

    def compose(self) -> ComposeResult:
        yield Label("", id="status-model")
        yield Label("opening the index…", id="status-corpus")
        yield ProgressBar(id="status-progress", show_eta=False)
        yield Label("", id="status-usage")

    def set_model(self, name: str) -> None:
        """Show the model in use."""
        self.query_one("#status-model", Label).update(model_text(name))

    def set_corpus(self, size: int | None, note: str | None = None) -> None:
        """Show the number of indexed papers (or a note such as an error)."""
        label = self.query_one("#status-corpus", Label)
        if note is not None:
            label.update(note)
        else:
            label.update(f"{size} papers" if size is not None else "")

    def set_usage(self, answer: Answer | None) -> None:
        """Show the last answer's tokens (and latency)."""
        text = usage_text(answer, show_timings=self.show_timings) if answer else ""
        self.query_one("#status-usage", Label).update(text)

    def show_progress(self, done: int, total: int) -> None:
        """Indexing progress; the bar appears on the first call."""
        bar = self.query_one(ProgressBar)
        self.add_class("-indexing")
        bar.update(total=total, progress=done)
        self.set_corpus(None, note=f"indexing the seed papers {done}/{total}")

    def hide_progress(self) -> None:
        """Indexing is over."""
        self.remove_class("-indexing")
