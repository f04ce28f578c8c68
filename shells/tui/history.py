"""The history screen: saved conversations to resume or delete."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label

if TYPE_CHECKING:
    from assistant.orchestrator import Assistant


def when(timestamp: float) -> str:
    """A compact local date and time for epoch seconds."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


class HistoryScreen(ModalScreen[str | None]):
    """Lists conversations, newest first; Enter resumes, d deletes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("enter", "resume", "Resume", priority=True),
        Binding("d,delete", "delete", "Delete"),
    ]

    def __init__(self, assistant: Assistant, current: str | None) -> None:
        super().__init__()
        self.assistant = assistant
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="history-body"):
            yield Label("Conversations", classes="heading")
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Label("", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Title", key="title")
        table.add_column("Turns", key="turns")
        table.add_column("Updated", key="updated")
        self.reload()
        table.focus()

    def reload(self) -> None:
        """Fill the table from the store."""
        table = self.query_one(DataTable)
        table.clear()
        infos = self.assistant.conversations()
        for info in infos:
            mark = "● " if info.id == self.current else ""
            title = Text(mark + (info.title or "(untitled)"), no_wrap=True, overflow="ellipsis")
            table.add_row(title, str(info.turns), when(info.updated_at), key=info.id)
        hint = self.query_one(".hint", Label)
        hint.update(
            "No saved conversations yet." if not infos else "Enter: resume · d: delete · Esc: close"
        )

    def _row_key(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def action_resume(self) -> None:
        """Resume the highlighted conversation."""
        key = self._row_key()
        if key is not None:
            self.dismiss(key)

    def action_delete(self) -> None:
        """Delete the highlighted conversation."""
        key = self._row_key()
        if key is None:
            return
        self.assistant.delete_conversation(key)
        self.notify("Conversation deleted.")
        self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """A click on a row resumes it."""
        if event.row_key.value is not None:
            self.dismiss(event.row_key.value)
