"""The assistant layer's one error root: each carries a one-line `message`, a `kind` and
an optional `hint`.

The shells catch `AssistantError` (and the retrieval layer's `RetrievalError`) once: the
CLI prints `ra: error: <message> (<hint>)` on stderr, the TUI shows a notice. Messages never
contain secrets such as the API key.
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


AssistantErrorKind = Literal[
    "usage",  # a bad argument (empty question, unknown option value, ...)
    "config",  # a setting is invalid (names the setting and its source)
    "not_found",  # a paper or conversation the user named does not exist
    "budget",  # the prompt cannot fit the model's window
    "model",  # the chat model failed (see ModelError.kind for how)
    "index",  # the paper index failed (a RetrievalError underneath)
    "io",  # a file the user named cannot be read or written
]


class AssistantError(Exception):
    """Root of the assistant layer's errors: a one-line message, a kind and a hint."""

    kind: str = "usage"

    def __init__(self, message: str, hint: str | None = None, *, kind: str | None = None) -> None:
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


class ModelError(AssistantError):
    """The chat model failed; `kind` says how (auth, not_found, rate_limit, ...)."""

    def __init__(self, kind: ModelErrorKind, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.kind: ModelErrorKind = kind


class BudgetError(AssistantError):
    """The prompt cannot fit the model's context window (e.g. the question alone is too long)."""

    kind = "budget"


class PaperNotFound(AssistantError):
    """A paper reference matched no paper, or several: `candidates` are the "did you mean"."""

    kind = "not_found"

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

    kind = "not_found"

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation {conversation_id!r}", "list them with `ra history`")
        self.conversation_id = conversation_id


def require_text(text: str, what: str) -> str:
    """`text` stripped; a usage `AssistantError` ("the question is empty") when nothing is left."""
    text = text.strip()
    if not text:
        raise AssistantError(f"the {what} is empty")
    return text
