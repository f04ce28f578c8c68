"""`Library`: the `Assistant` without its turns, for commands that ask no model.

Papers, search, index checks and saved conversations need neither a chat model nor the
prompt budget, citations or streaming; opening this instead of `Assistant` keeps those
modules out of `ra papers`, `ra search`, `ra check`, `ra ingest` and `ra history`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from assistant.conversations import ConversationsAPI
from assistant.library import LibraryAPI

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.history import HistoryStore
    from retrieval.index import PaperIndex

__all__ = ["Library"]


class Library(LibraryAPI, ConversationsAPI):
    """The index and history halves of the `Assistant` facade, with the same behaviour."""

    def __init__(
        self,
        settings: Settings,
        *,
        index: PaperIndex | None = None,
        history: HistoryStore | None = None,
    ) -> None:
        self.settings = settings
        self._index = index
        self._history = history
        self._lock = threading.RLock()
