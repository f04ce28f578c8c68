"""Sources for a prompt: papers (and search hits) as source candidates, one per paper."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.answer import SourceGiven
from assistant.text import clean_text, sentences

if TYPE_CHECKING:
    from retrieval.models import Paper, SearchHit


def candidate(paper: Paper | None, hit: SearchHit | None, score: float | None) -> SourceGiven:
    """A source candidate (unnumbered) from a paper (preferred: its full abstract) or a hit.

    The text is the abstract as clean text (LaTeX and HTML entities decoded); the paper
    record keeps the original.
    """
    if paper is not None:
        text = paper.abstract or (hit.snippet if hit else "")
        return SourceGiven(
            paper_id=paper.paper_id,
            title=clean_text(paper.title),
            text=clean_text(text),
            arxiv_id=paper.arxiv_id,
            year=paper.year,
            authors=list(paper.authors),
            authors_truncated=paper.authors_truncated,
            category=paper.category,
            has_code=paper.has_code,
            score=score,
        )
    assert hit is not None
    return SourceGiven(
        paper_id=hit.paper_id,
        title=clean_text(hit.title),
        text=clean_text("\n".join(hit.matched_chunks) or hit.snippet),
        arxiv_id=hit.arxiv_id,
        year=hit.year,
        authors=list(hit.authors),
        score=score,
    )


BRIEF_SENTENCES = 1  # a listed record's text: the first sentence of its abstract
BRIEF_CHARS = 120


def brief(source: SourceGiven) -> SourceGiven:
    """A record for a list answer: the metadata and the start of the abstract only, so a
    long list still fits the model's window."""
    first = " ".join(sentences(source.text)[:BRIEF_SENTENCES])
    if len(first) > BRIEF_CHARS:
        first = first[:BRIEF_CHARS].rsplit(" ", 1)[0] + " …"
    return source.model_copy(update={"text": first})
