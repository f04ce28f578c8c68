"""Errors a user can act on: each carries a one-line `message` and an optional `hint`.

The CLI prints `error: <message>` (and the hint) on stderr; the TUI shows both as a
notification. Messages never contain secrets such as the API key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from retrieval.models import Paper

ModelErrorKind = Literal[
    "auth",
    "not_found",
    "rate_limit",
    "unreachable",
    "context_length",
    "timeout",
    "server",
    "bad_request",
    "interrupted",
    "config",
]


class AssistantError(Exception):
    """Base class: a clear, one-line message and an optional hint on how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def display(self) -> str:
        """`message` followed by the hint, for a terminal."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ModelError(AssistantError):
    """The chat model failed; `kind` says how (auth, not_found, rate_limit, ...)."""

    def __init__(self, kind: ModelErrorKind, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.kind: ModelErrorKind = kind


class BudgetError(AssistantError):
    """The prompt cannot fit the model's context window (e.g. the question alone is too long)."""


class PaperNotFound(AssistantError):
    """A paper reference matched no paper, or several: `candidates` are the "did you mean"."""

    def __init__(self, ref: str, candidates: list[Paper], *, ambiguous: bool = False) -> None:
        self.ref = ref
        self.candidates = candidates
        self.ambiguous = ambiguous
        lead = f"{ref!r} could name several papers" if ambiguous else f"no paper matches {ref!r}"
        if candidates:
            names = "; ".join(f"{p.title} ({p.paper_id})" for p in candidates[:5])
            message = f"{lead}; did you mean: {names}?"
            hint = "pass a paper id or arXiv id to pick one"
        else:
            message = lead
            hint = "try `ra search` or `ra papers` to find it"
        super().__init__(message, hint)


class ConversationNotFound(AssistantError):
    """No saved conversation has this id."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation {conversation_id!r}", "list them with `ra history`")
        self.conversation_id = conversation_id
