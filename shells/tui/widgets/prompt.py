"""The input box: questions and slash commands over several lines, completion, recall.

Enter sends; ctrl+j (or shift+enter / alt+enter, where the terminal tells them apart)
inserts a new line; a paste keeps every line (bracketed paste). The box grows to a few
lines, then scrolls. Up on the first line and Down on the last walk through the questions
sent before (the draft being typed is kept and comes back after the newest).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from shells.tui.slash import CompletionSource, complete

PLACEHOLDER = "Ask about the papers…  (/ for commands)"
NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter", "ctrl+enter")


class PromptArea(TextArea):
    """A TextArea where Enter sends and Up/Down at the edges recall earlier inputs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=False),
    ]

    class Submitted(Message):
        """The user pressed Enter: `value` is the whole text."""

        def __init__(self, prompt: PromptArea, value: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.value = value

        @property
        def control(self) -> PromptArea:
            """The input box."""
            return self.prompt

    def __init__(
        self,
        source: CompletionSource,
        *,
        recall: Sequence[str] = (),
        on_send: Callable[[str], None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            highlight_cursor_line=False,
            placeholder=PLACEHOLDER,
            tab_behavior="focus",
        )
        self.source = source
        self._recall = list(recall)
        self._recall_at: int | None = None  # index into _recall while walking it
        self._draft = ""
        self._on_send = on_send

    # ------------------------------------------------------------ the text

    @property
    def value(self) -> str:
        """The whole text (an alias of `text`, as on Input)."""
        return self.text

    @value.setter
    def value(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    def set_and_select(self, text: str) -> None:
        """Put `text` back selected, so typing replaces it and Enter sends it again."""
        self.load_text(text)
        self.select_all()

    # ------------------------------------------------------------ keys

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._send()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def _send(self) -> None:
        text = self.text
        if not text.strip():
            return
        self._recall_at = None
        if not self._recall or self._recall[-1] != text:
            self._recall.append(text)
        if self._on_send is not None:
            self._on_send(text)
        self.post_message(self.Submitted(self, text))

    def action_cursor_up(self, select: bool = False) -> None:
        """On the first line: the previous input; else move up."""
        if not select and self.cursor_location[0] == 0 and self._recall:
            self._walk(-1)
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        """On the last line while recalling: the next input (then the draft); else move."""
        last_row = self.document.line_count - 1
        if not select and self.cursor_location[0] == last_row and self._recall_at is not None:
            self._walk(+1)
            return
        super().action_cursor_down(select)

    def _walk(self, step: int) -> None:
        if self._recall_at is None:
            if step > 0:
                return
            self._draft = self.text
            self._recall_at = len(self._recall)
        position = max(0, self._recall_at + step)
        if position >= len(self._recall):
            self._recall_at = None
            self.value = self._draft
            return
        self._recall_at = position
        self.value = self._recall[position]

    # ------------------------------------------------------------ completion

    def update_suggestion(self) -> None:
        """Grey completion after the cursor when it is at the end of the text."""
        text = self.text
        if "\n" in text or self.cursor_location != self.document.end:
            self.suggestion = ""
            return
        completed = complete(text, self.source)
        self.suggestion = completed[len(text) :] if completed else ""

    def action_complete(self) -> None:
        """Accept the completion; on an empty box Tab moves focus on, else it stays here."""
        completed = complete(self.text, self.source) if "\n" not in self.text else None
        if completed is None:
            if not self.text:
                self.screen.focus_next()
            return
        self.value = completed
