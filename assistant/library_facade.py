"""`Library`: the paper-index half of the `Assistant`, for commands that ask no model.

Papers, search, ingest and index checks need neither a chat model nor the prompt budget,
citations or streaming, nor the conversation store; opening this instead of `Assistant`
keeps those modules out of `ra papers`, `ra search`, `ra check` and `ra ingest`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from assistant.library import LibraryAPI

if TYPE_CHECKING:
    from assistant.config import Settings
    from retrieval.index import PaperIndex

__all__ = ["Library"]


class Library(LibraryAPI):
    """The index operations of the `Assistant` facade, with the same behaviour."""

    def __init__(self, settings: Settings, *, index: PaperIndex | None = None) -> None:
        self.settings = settings
        self._index = index
        self._lock = threading.RLock()
