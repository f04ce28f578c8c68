"""The input line: questions and slash commands, with completion (Tab or →)."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Input

from shells.tui.slash import CompletionSource, complete

PLACEHOLDER = "Ask about the papers…  (/ for commands, Tab completes)"


class SlashSuggester(Suggester):
    """Suggests slash commands, paper titles after /summarize, model names after /model."""

    def __init__(self, source: CompletionSource) -> None:
        # Not cached: the paper list arrives after the index opens.
        super().__init__(use_cache=False, case_sensitive=True)
        self.source = source

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, self.source)


class PromptInput(Input):
    """An Input whose Tab accepts the completion (and moves focus when there is none)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=False),
    ]

    def __init__(self, source: CompletionSource, *, id: str | None = None) -> None:
        super().__init__(
            placeholder=PLACEHOLDER, suggester=SlashSuggester(source), id=id, select_on_focus=False
        )
        self.source = source

    def action_complete(self) -> None:
        """Complete the line, or move focus on when there is nothing to complete."""
        completed = complete(self.value, self.source)
        if completed is None:
            self.screen.focus_next()
            return
        self.value = completed
        self.cursor_position = len(completed)
