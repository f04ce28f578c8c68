"""What an ingest reports: counts, per-file results, merges, conflicts and every problem."""

from __future__ import annotations

from pydantic import BaseModel, Field

from retrieval.merge import MergeConflict, MergeEvent
from retrieval.models import ParseIssue


class FileReport(BaseModel):
    """What one input file gave."""

    path: str
    records: int = 0
    issues: int = 0
    error: str | None = None


class IngestReport(BaseModel):
    """The outcome of an ingest: counts, per-file results and every problem found."""

    files: list[FileReport] = Field(default_factory=list)
    issues: list[ParseIssue] = Field(default_factory=list)
    # Every merge of records into one paper, with its reason, and every merge conflict.
    merges: list[MergeEvent] = Field(default_factory=list)
    conflicts: list[MergeConflict] = Field(default_factory=list)
    papers: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0
    nothing_changed: bool = False
    # True when this ingest finished an interrupted one.
    resumed: bool = False
    # Where a damaged store was moved by `--reindex` (kept, never deleted).
    moved_aside: str | None = None

    @property
    def skipped_records(self) -> int:
        """Records reported as malformed and left out."""
        return len(self.issues)

    @property
    def file_errors(self) -> list[str]:
        """Files that could not be read at all."""
        return [f"{f.path}: {f.error}" for f in self.files if f.error]

    @property
    def ok(self) -> bool:
        """True when every file and record was ingested."""
        return not self.issues and not self.file_errors
