"""Typed records shared across the retrieval layer and its callers."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, Field


class SourceRef(BaseModel):
    """Where a record came from: a file, the 1-based line it starts on, and its format."""

    file: str
    line: int
    format: str = ""


class Paper(BaseModel):
    """One paper, the unit users see (DESIGN.md, "Paper record")."""

    paper_id: str
    title: str
    # True when `title` is a display title built from the abstract (the source had none).
    title_is_display: bool = False
    authors: list[str] = Field(default_factory=list)
    # True when the source listed only the first authors ("A, B, C et al.").
    authors_truncated: bool = False
    affiliations: list[str] = Field(default_factory=list)
    year: int | None = None
    # ISO date, possibly partial: "2024-06-26", "2024-06" or "2024".
    date: str | None = None
    category: str | None = None
    arxiv_id: str | None = None
    # A DOI other than arXiv's own (10.48550/arXiv.<id> gives `arxiv_id`), lower case.
    doi: str | None = None
    url: str | None = None
    code_url: str | None = None
    has_code: bool = False
    abstract: str = ""
    sources: list[SourceRef] = Field(default_factory=list)

    def content_hash(self) -> str:
        """A stable hash of everything but `sources`: equal hashes mean nothing to re-index."""
        payload = self.model_dump(exclude={"sources"})
        if payload["doi"] is None:  # records without a DOI keep the hash they had before it
            del payload["doi"]
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def citation_label(self) -> str:
        """A short human label: first author, year and title."""
        first = self.authors[0].split()[-1] if self.authors else "Unknown"
        extra = " et al." if len(self.authors) > 1 or self.authors_truncated else ""
        year = f" ({self.year})" if self.year else ""
        return f"{first}{extra}{year}. {self.title}"


class ParseIssue(BaseModel):
    """A problem found in an input file, reported as `file:line: message`."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ParseResult(BaseModel):
    """What a parser produced from one file: the good records and the problems."""

    papers: list[Paper] = Field(default_factory=list)
    issues: list[ParseIssue] = Field(default_factory=list)


class Chunk(BaseModel):
    """A retrievable piece of a paper; `text` starts with the title so it stands alone."""

    chunk_id: str
    paper_id: str
    index: int
    text: str
    n_tokens: int


class SearchHit(BaseModel):
    """One paper in a search result (one hit per paper, best first)."""

    paper_id: str
    title: str
    arxiv_id: str | None = None
    year: int | None = None
    authors: list[str] = Field(default_factory=list)
    score: float
    snippet: str
    # The chunk texts of this paper that matched, best first.
    matched_chunks: list[str] = Field(default_factory=list)
    dense_rank: int | None = None
    lexical_rank: int | None = None
    # The full record, so callers need no second fetch; left out of JSON output.
    paper: Paper = Field(exclude=True)
