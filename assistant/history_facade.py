"""`HistoryLibrary`: saved conversations plus the paper index (to name cited papers), for
`ra history`; like `Library`, without the chat model and the turn machinery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.conversations import ConversationsAPI
from assistant.library_facade import Library

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.history import HistoryStore

__all__ = ["HistoryLibrary"]


class HistoryLibrary(Library, ConversationsAPI):
    """The index and conversation operations of the `Assistant` facade."""

    def __init__(self, settings: Settings, *, history: HistoryStore | None = None) -> None:
        super().__init__(settings)
        self._history = history
