"""Sources for a prompt: papers (and search hits) as source candidates, one per paper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from assistant import metadata
from assistant.answer import SourceGiven
from assistant.messages import Listing
from assistant.names import NameTable
from assistant.text import clean_text, sentences

if TYPE_CHECKING:
    from retrieval.index import PaperIndex
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


def names(paper: Paper, name: str) -> bool:
    """True when `name` is the paper's short name (its title up to the colon) or its title."""
    title = paper.title.lower()
    name = name.lower().strip()
    return title == name or title.split(":")[0].strip() == name or title.startswith(name + ":")


def name_rows(index: PaperIndex) -> Iterator[tuple[str, str, str]]:
    """(paper id, title, abstract) of every indexed paper, as clean text, for a `NameTable`."""
    return ((p.paper_id, clean_text(p.title), clean_text(p.abstract or "")) for p in index.papers())


def search_sources(
    index: PaperIndex, query: str, k: int, table: NameTable | None = None
) -> list[SourceGiven]:
    """Search hits as source candidates, one per paper, with the paper's full abstract.

    Papers the question names come first, resolved over the whole collection by their
    short title, title acronym or the name their abstract introduces (`table`; built here
    when not given), so a comparison always has both sides, whatever the search ranks.
    """
    hits = index.search(query, k, snippets=False)
    table = table if table is not None else NameTable.build(name_rows(index))
    wanted = table.named(query)
    # the hits carry their papers; a named paper the search missed is in the loaded records
    known = {h.paper_id: h.paper for h in hits if h.paper is not None}
    if any(i not in known for i in wanted):
        known.update((p.paper_id, p) for p in index.papers() if p.paper_id not in known)
    named = [known[i] for i in wanted if i in known]
    ids = {p.paper_id for p in named}
    out = [candidate(p, None, None) for p in named]
    out += [candidate(h.paper, h, h.score) for h in hits if h.paper_id not in ids]
    return out[: max(k, len(named))]


def listing_sources(index: PaperIndex, question: str) -> tuple[list[SourceGiven], Listing] | None:
    """Every record a list/metadata question asks for, oldest first (None for others)."""
    loaded: list[Paper] = []

    def papers() -> list[Paper]:  # every record, read once and only for a list question
        if not loaded:
            loaded.extend(index.papers())
        return loaded

    query = metadata.parse(question, papers)
    if query is None:
        return None
    if query.kind == "record":
        found = index.resolve(query.ref or "")
        named = [p for p in found if names(p, query.ref or "")]
        if len(named) != 1 and len(found) != 1:
            return None
        paper = named[0] if len(named) == 1 else found[0]
        return [candidate(paper, None, None)], Listing(query=query, total=1)
    matched = metadata.select(query, papers())
    return [brief(candidate(p, None, None)) for p in matched], Listing(
        query=query, total=len(matched)
    )
