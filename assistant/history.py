"""Saved conversations: SQLite (WAL) at `<home>/history.sqlite`, one row per turn.

A turn's question is written (status `pending`) before the model is called and its
Answer JSON right after the turn, each in its own transaction, so a crash loses at most
the turn in flight (it stays `pending`). Secrets passed to the store are redacted from
everything it writes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.answer import Answer
from assistant.errors import ConversationNotFound

TurnStatus = Literal["pending", "done", "failed"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    question TEXT NOT NULL,
    status TEXT NOT NULL,
    model TEXT,
    answer_json TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, id);
"""


class Turn(BaseModel):
    """One question and (once finished) its Answer."""

    turn_id: int
    kind: str
    question: str
    status: TurnStatus
    model: str | None = None
    answer: Answer | None = None
    error: str | None = None
    created_at: float
    finished_at: float | None = None


class ConversationInfo(BaseModel):
    """A conversation in the list: id, title (its first question), times, turn count."""

    id: str
    title: str
    created_at: float
    updated_at: float
    turns: int


class Conversation(BaseModel):
    """A conversation with all its turns, oldest first."""

    id: str
    title: str
    created_at: float
    updated_at: float
    turns: list[Turn] = Field(default_factory=list)


class HistoryStore:
    """Conversations in SQLite; safe to share between threads."""

    def __init__(self, path: Path, *, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = [s for s in secrets if s and len(s) >= 4]
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def for_home(cls, home: Path, *, secrets: Iterable[str] = ()) -> HistoryStore:
        """The store at `<home>/history.sqlite`."""
        return cls(home / "history.sqlite", secrets=secrets)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(SCHEMA)
            _migrate(conn)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Close the database connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _write(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(sql, params)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return cursor

    # ----- writing -----

    def new_conversation(self, title: str = "") -> str:
        """Create a conversation and return its id."""
        conversation_id = uuid.uuid4().hex[:12]
        now = time.time()
        self._write(
            "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (conversation_id, self._redact(title[:200]) or "", now, now),
        )
        return conversation_id

    def start_turn(self, conversation_id: str, kind: str, question: str, model: str) -> int:
        """Record a question before the model is called; returns the turn id."""
        if not self.exists(conversation_id):
            raise ConversationNotFound(conversation_id)
        now = time.time()
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(
                    "INSERT INTO turns (conversation_id, kind, question, status, model, created_at)"
                    " VALUES (?, ?, ?, 'pending', ?, ?)",
                    (conversation_id, kind, self._redact(question), model, now),
                )
                db.execute(
                    "UPDATE conversations SET updated_at = ?,"
                    " title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                    (now, self._redact(" ".join(question.split())[:120]), conversation_id),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        turn_id = cursor.lastrowid
        assert turn_id is not None
        return turn_id

    def finish_turn(self, turn_id: int, answer: Answer) -> None:
        """Store the turn's Answer (status `done`)."""
        self._write(
            "UPDATE turns SET status = 'done', answer_json = ?, error = ?, finished_at = ?"
            " WHERE id = ?",
            (
                self._redact(answer.model_dump_json()),
                self._redact(answer.error),
                time.time(),
                turn_id,
            ),
        )

    def fail_turn(self, turn_id: int, error: str) -> None:
        """Mark a turn failed with a one-line error."""
        self._write(
            "UPDATE turns SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
            (self._redact(error), time.time(), turn_id),
        )

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and its turns."""
        cursor = self._write("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        if cursor.rowcount == 0:
            raise ConversationNotFound(conversation_id)

    # ----- reading -----

    def exists(self, conversation_id: str) -> bool:
        """True when the conversation exists."""
        with self._lock:
            row = (
                self._db()
                .execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
                .fetchone()
            )
        return row is not None

    def conversations(self) -> list[ConversationInfo]:
        """All conversations, most recently updated first."""
        with self._lock:
            rows = (
                self._db()
                .execute(
                    "SELECT c.id, c.title, c.created_at, c.updated_at, COUNT(t.id)"
                    " FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id"
                    " WHERE c.deleted_at IS NULL"
                    " GROUP BY c.id ORDER BY c.updated_at DESC, c.created_at DESC"
                )
                .fetchall()
            )
        return [
            ConversationInfo(id=r[0], title=r[1], created_at=r[2], updated_at=r[3], turns=r[4])
            for r in rows
        ]

    def conversation(self, conversation_id: str) -> Conversation:
        """A conversation with its turns (pending and failed ones included)."""
        with self._lock:
            db = self._db()
            head = db.execute(
                "SELECT id, title, created_at, updated_at FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            if head is None:
                raise ConversationNotFound(conversation_id)
            rows = db.execute(
                "SELECT id, kind, question, status, model, answer_json, error, created_at,"
                " finished_at FROM turns WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        turns = [
            Turn(
                turn_id=r[0],
                kind=r[1],
                question=r[2],
                status=r[3],
                model=r[4],
                answer=Answer.model_validate_json(r[5]) if r[5] else None,
                error=r[6],
                created_at=r[7],
                finished_at=r[8],
            )
            for r in rows
        ]
        return Conversation(
            id=head[0], title=head[1], created_at=head[2], updated_at=head[3], turns=turns
        )

    # ----- managing conversations (rename, trash with undo, the last one viewed) -----

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title."""
        title = " ".join(title.split())[:200]
        cursor = self._write(
            "UPDATE conversations SET title = ? WHERE id = ?",
            (self._redact(title) or "", conversation_id),
        )
        if cursor.rowcount == 0:
            raise ConversationNotFound(conversation_id)

    def trash_conversation(self, conversation_id: str) -> None:
        """Hide a conversation from the list (`restore_conversation` undoes it)."""
        cursor = self._write(
            "UPDATE conversations SET deleted_at = ? WHERE id = ?", (time.time(), conversation_id)
        )
        if cursor.rowcount == 0:
            raise ConversationNotFound(conversation_id)

    def restore_conversation(self, conversation_id: str) -> None:
        """Bring a trashed conversation back."""
        cursor = self._write(
            "UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,)
        )
        if cursor.rowcount == 0:
            raise ConversationNotFound(conversation_id)

    def empty_trash(self, older_than_s: float = 0.0) -> int:
        """Delete conversations trashed more than `older_than_s` seconds ago; the count."""
        cursor = self._write(
            "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
            (time.time() - older_than_s,),
        )
        return cursor.rowcount

    def mark_viewed(self, conversation_id: str) -> None:
        """Remember that this conversation is the one on screen (reopened on next start)."""
        self._write(
            "UPDATE conversations SET viewed_at = ? WHERE id = ?", (time.time(), conversation_id)
        )

    def last_viewed(self) -> str | None:
        """The conversation viewed last (not trashed), else the most recently updated."""
        with self._lock:
            row = (
                self._db()
                .execute(
                    "SELECT id FROM conversations WHERE deleted_at IS NULL"
                    " ORDER BY COALESCE(viewed_at, 0) DESC, updated_at DESC LIMIT 1"
                )
                .fetchone()
            )
        return str(row[0]) if row else None


def _migrate(conn: sqlite3.Connection) -> None:
    """Columns added after the first release (older files gain them in place)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(conversations)")}
    for name in ("deleted_at", "viewed_at"):
        if name not in columns:
            try:
                conn.execute(f"ALTER TABLE conversations ADD COLUMN {name} REAL")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise
