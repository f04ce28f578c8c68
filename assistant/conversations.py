"""The conversation half of the `Assistant` facade: list, show, rename, trash, export."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.history import Conversation, ConversationInfo, HistoryStore

if TYPE_CHECKING:
    from retrieval.models import Paper


class ConversationsAPI:
    """The saved-conversation operations of `Assistant` (a part of the facade)."""

    settings: Settings
    _history: HistoryStore | None
    _lock: threading.RLock

    if TYPE_CHECKING:  # provided by LibraryAPI in the composed facade

        def paper(self, paper_id: str) -> Paper | None: ...

    @property
    def history(self) -> HistoryStore:
        """The conversation store under the data directory."""
        with self._lock:
            if self._history is None:
                key = self.settings.openai_api_key
                secrets = [key.get_secret_value()] if key else []
                self._history = HistoryStore.for_home(self.settings.home, secrets=secrets)
            return self._history

    def new_conversation(self) -> str:
        """Start an empty conversation and return its id."""
        return self.history.new_conversation()

    def conversations(self) -> list[ConversationInfo]:
        """Saved conversations, most recent first."""
        return self.history.conversations()

    def conversation(self, conversation_id: str) -> Conversation:
        """One conversation with its turns and their Answers."""
        return self.history.conversation(conversation_id)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation."""
        self.history.delete_conversation(conversation_id)

    def export_markdown(self, conversation_id: str) -> str:
        """The conversation as Markdown, with a numbered reference list of cited papers."""
        from assistant.export import conversation_markdown

        def lookup(paper_id: str) -> Paper | None:
            try:
                return self.paper(paper_id)
            except AssistantError:  # the index is unavailable: use what the turns saved
                return None

        return conversation_markdown(self.conversation(conversation_id), lookup)

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title."""
        self.history.rename_conversation(conversation_id, title)

    def trash_conversation(self, conversation_id: str) -> None:
        """Hide a conversation (undo with `restore_conversation`)."""
        self.history.trash_conversation(conversation_id)

    def restore_conversation(self, conversation_id: str) -> None:
        """Bring a trashed conversation back."""
        self.history.restore_conversation(conversation_id)

    def mark_viewed(self, conversation_id: str) -> None:
        """Remember the conversation on screen (reopened on the next start)."""
        self.history.mark_viewed(conversation_id)

    def last_viewed(self) -> str | None:
        """The conversation to reopen on start."""
        return self.history.last_viewed()
