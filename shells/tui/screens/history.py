"""The history screen: saved conversations to resume, rename, filter or delete (with undo)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label

from shells.tui.screens.dialogs import ConfirmScreen, TextScreen

if TYPE_CHECKING:
    from assistant.history import ConversationInfo
    from assistant.orchestrator import Assistant

HINT = "Enter resume · r rename · d delete · u undo · / filter · Esc close"


def when(timestamp: float) -> str:
    """A compact local date and time for epoch seconds."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


class HistoryScreen(ModalScreen[str | None]):
    """Conversations, newest first; returns the id to resume (None: stay)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
        Binding("u", "undo", "Undo"),
        Binding("slash", "filter", "Filter"),
    ]

    def __init__(self, assistant: Assistant, current: str | None) -> None:
        super().__init__()
        self.assistant = assistant
        self.current = current
        self.trashed: list[str] = []  # deleted here, newest last (u brings them back)
        self._infos: list[ConversationInfo] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="history-body"):
            yield Label("Conversations", classes="heading")
            yield Input(placeholder="/ filter by title…", id="history-filter", compact=True)
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Label(HINT, classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Title", key="title")
        table.add_column("Turns", key="turns")
        table.add_column("Started", key="created")
        table.add_column("Updated", key="updated")
        self.reload()
        table.focus()

    def reload(self, keep: str | None = None) -> None:
        """Read the list from the store and show the rows that pass the filter."""
        self._infos = self.assistant.conversations()
        self._fill(keep)

    def _fill(self, keep: str | None = None) -> None:
        table = self.query_one(DataTable)
        needle = self.query_one("#history-filter", Input).value.strip().casefold()
        table.clear()
        shown = [i for i in self._infos if needle in (i.title or "").casefold()]
        for info in shown:
            mark = "● " if info.id == self.current else ""
            title = Text(mark + (info.title or "(untitled)"), no_wrap=True, overflow="ellipsis")
            table.add_row(
                title, str(info.turns), when(info.created_at), when(info.updated_at), key=info.id
            )
        if keep is not None and keep in {i.id for i in shown}:
            table.move_cursor(row=table.get_row_index(keep))
        hint = self.query_one(".hint", Label)
        if not self._infos:
            hint.update("No saved conversations yet. Esc: close")
        elif not shown:
            hint.update("No conversation matches the filter.")
        else:
            hint.update(HINT)

    @on(Input.Changed, "#history-filter")
    def filter_changed(self) -> None:
        """Filter as the user types."""
        self._fill()

    @on(Input.Submitted, "#history-filter")
    def filter_done(self) -> None:
        """Enter in the filter: go to the list."""
        self.query_one(DataTable).focus()

    def _row_key(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def action_filter(self) -> None:
        """Focus the filter box."""
        self.query_one("#history-filter", Input).focus()

    def action_close(self) -> None:
        """Escape: leave the filter first, then the screen."""
        filter_box = self.query_one("#history-filter", Input)
        if filter_box.has_focus and filter_box.value:
            filter_box.value = ""
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)

    def action_rename(self) -> None:
        """Rename the highlighted conversation."""
        key = self._row_key()
        if key is None:
            return
        title = next((i.title for i in self._infos if i.id == key), "")

        def done(new: str | None) -> None:
            if new:
                self.assistant.rename_conversation(key, new)
                self.reload(keep=key)
            self.query_one(DataTable).focus()

        self.app.push_screen(TextScreen("New title", title), done)

    def action_delete(self) -> None:
        """Delete the highlighted conversation, after asking (u undoes it)."""
        key = self._row_key()
        if key is None:
            return
        title = next((i.title for i in self._infos if i.id == key), "") or "(untitled)"

        def done(yes: bool | None) -> None:
            if yes:
                self.assistant.trash_conversation(key)
                self.trashed.append(key)
                self.notify(f"Deleted “{title[:40]}”. Press u to undo.", title="History")
                self.reload()
            self.query_one(DataTable).focus()

        self.app.push_screen(ConfirmScreen(f"Delete “{title[:60]}”?", yes="Delete"), done)

    def action_undo(self) -> None:
        """Bring back the conversation deleted last."""
        if not self.trashed:
            self.notify("Nothing to undo.", title="History")
            return
        key = self.trashed.pop()
        self.assistant.restore_conversation(key)
        self.notify("Restored.", title="History")
        self.reload(keep=key)

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter or a click on a row resumes it."""
        if event.row_key.value is not None:
            self.dismiss(event.row_key.value)
