"""Sources for a prompt: search hits and papers as numbered-source candidates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.budget import SourceCandidate

if TYPE_CHECKING:
    from retrieval.models import Paper, SearchHit


def candidate(paper: Paper | None, hit: SearchHit | None, score: float | None) -> SourceCandidate:
    """A source candidate from a paper (preferred: its full abstract) or a search hit."""
    if paper is not None:
        text = paper.abstract or (hit.snippet if hit else "")
        return SourceCandidate(
            paper_id=paper.paper_id,
            title=paper.title,
            text=text,
            arxiv_id=paper.arxiv_id,
            year=paper.year,
            authors=list(paper.authors),
            score=score,
        )
    assert hit is not None
    return SourceCandidate(
        paper_id=hit.paper_id,
        title=hit.title,
        text="\n".join(hit.matched_chunks) or hit.snippet,
        arxiv_id=hit.arxiv_id,
        year=hit.year,
        authors=list(hit.authors),
        score=score,
    )
