"""Errors and issue helpers shared by the parsers."""

from __future__ import annotations

from pathlib import Path

from retrieval.errors import RetrievalError, RetrievalErrorKind
from retrieval.models import ParseIssue


class SourceFileError(RetrievalError, ValueError):
    """A whole input file cannot be parsed (missing, unreadable, binary, empty, unknown)."""

    kind: RetrievalErrorKind = "source"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def issue(file: str, line: int, message: str) -> ParseIssue:
    """A `file:line: message` problem report."""
    return ParseIssue(file=file, line=line, message=message)
