"""Managing saved conversations (the chat's history screen): rename, trash with undo, the
conversation viewed last, and files written before these columns existed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.errors import ConversationNotFound
from assistant.history import SCHEMA, HistoryStore
from assistant.orchestrator import Assistant


def test_rename_trash_restore_and_empty(tmp_path: Path) -> None:
    store = HistoryStore.for_home(tmp_path, secrets=["sk-secret-123"])
    first = store.new_conversation("first")
    second = store.new_conversation("second")
    store.rename_conversation(first, "  about   sk-secret-123  ")
    titles = {c.id: c.title for c in store.conversations()}
    assert titles[first] == "about ***"
    store.trash_conversation(second)
    assert [c.id for c in store.conversations()] == [first]
    assert store.conversation(second).title == "second"  # still there, for undo
    store.restore_conversation(second)
    assert {c.id for c in store.conversations()} == {first, second}
    store.trash_conversation(second)
    assert store.empty_trash(older_than_s=3600) == 0  # too recent
    assert store.empty_trash() == 1
    with pytest.raises(ConversationNotFound):
        store.conversation(second)
    with pytest.raises(ConversationNotFound):
        store.rename_conversation("nope", "x")


def test_last_viewed_beats_last_updated(tmp_path: Path) -> None:
    store = HistoryStore.for_home(tmp_path)
    assert store.last_viewed() is None
    old = store.new_conversation("old")
    time.sleep(0.01)
    new = store.new_conversation("new")
    assert store.last_viewed() == new  # nothing viewed yet: the newest
    store.mark_viewed(old)
    assert store.last_viewed() == old
    store.trash_conversation(old)
    assert store.last_viewed() == new


def test_a_file_from_before_gains_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at)"
            " VALUES ('abc', 'kept', 1, 1)"
        )
    store = HistoryStore(path)
    assert [c.title for c in store.conversations()] == ["kept"]
    store.mark_viewed("abc")
    assert store.last_viewed() == "abc"
    store.close()
    assert [c.title for c in HistoryStore(path).conversations()] == ["kept"]  # idempotent


def test_summaries_are_titled_by_the_paper_or_topic(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    assistant = Assistant(seed_settings, index=seed_index, history=HistoryStore.for_home(tmp_path))
    paper = assistant.resolve_paper("WildGuard")
    summary = assistant.summarize(paper.paper_id)
    topic = assistant.summarize_topic("jailbreak attacks")
    titles = {c.id: c.title for c in assistant.conversations()}
    assert titles[summary.conversation_id or ""] == f"Summary: {paper.title}"
    assert titles[topic.conversation_id or ""] == "Topic: jailbreak attacks"
    assistant.summarize("WildGuard", save=False)  # a one-shot adds nothing
    assert len(assistant.conversations()) == 2
