"""The retrieval layer's one error root: every expected failure is a `RetrievalError`.

Each carries a one-line `message`, a `kind` a caller can branch on (never a guess from a
class or module name) and an optional `hint` saying how to fix it. The shells catch this
root once and print one line; nothing here ever holds a secret.
"""

from __future__ import annotations

from typing import Literal

RetrievalErrorKind = Literal[
    "config",  # a setting is invalid (names the setting and its source)
    "usage",  # a bad argument from the caller (empty query, k < 1, ...)
    "source",  # an input file cannot be read or parsed
    "store",  # the store cannot be opened or used
    "store_damaged",  # the store is unreadable or disagrees with the manifest
    "unreachable",  # a Chroma server cannot be reached or was lost
    "embedding",  # the embedding model cannot be loaded or used
    "mismatch",  # the index was built with other settings (embedding model, chunking)
    "busy",  # another process holds the index lock
    "incomplete",  # an ingest was interrupted; the index is not complete
]


class RetrievalError(Exception):
    """Root of the retrieval layer's errors: a one-line message, a kind and a hint."""

    kind: RetrievalErrorKind = "store"

    def __init__(
        self, message: str, hint: str | None = None, *, kind: RetrievalErrorKind | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if kind is not None:
            self.kind = kind

    def __str__(self) -> str:
        return self.message

    def display(self) -> str:
        """`message` followed by the hint, for a terminal."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class EmbeddingModelError(RetrievalError):
    """The embedding model cannot be found, loaded or used; the message says how to fix it."""

    kind: RetrievalErrorKind = "embedding"
