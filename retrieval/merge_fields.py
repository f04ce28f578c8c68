"""The fields of one merged paper from several records of it (docs/formats.md, "Merging")."""

from __future__ import annotations

from retrieval.ids import paper_id_for
from retrieval.models import Paper, SourceRef


def _date_precision(paper: Paper) -> int:
    """3 for a full date, 2 for a month, 1 for a year, 0 for none."""
    if paper.date:
        return min(3, paper.date.count("-") + 1)
    return 1 if paper.year else 0


def _unique(values: list[str]) -> list[str]:
    """Values in order, case-insensitive duplicates dropped."""
    seen: set[str] = set()
    out = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def merge_group(records: list[Paper]) -> Paper:
    """One paper from records of the same paper (input order), richest field wins."""
    from retrieval.parsers.arxiv_listing import display_title

    if len(records) == 1:
        return records[0]
    with_id = next((p for p in records if p.arxiv_id), None)
    arxiv_id = with_id.arxiv_id if with_id else None
    titled = [p for p in records if not p.title_is_display and p.title.strip()]
    # Abstract: a titled (curated) record's version if any, else any; the longest wins.
    pool = titled or records
    abstract = max(pool, key=lambda p: len(p.abstract)).abstract
    real_title = titled[0].title if titled else None
    authors_from = max(
        records, key=lambda p: (bool(p.authors), not p.authors_truncated, len(p.authors))
    )
    dated = max(records, key=_date_precision)
    sources: list[SourceRef] = [s for p in records for s in p.sources]
    return Paper(
        paper_id=paper_id_for(arxiv_id=arxiv_id, title=real_title, abstract=abstract),
        title=real_title or display_title(abstract, arxiv_id),
        title_is_display=real_title is None,
        authors=list(authors_from.authors),
        authors_truncated=authors_from.authors_truncated,
        affiliations=_unique([a for p in records for a in p.affiliations]),
        year=dated.year if dated.year else next((p.year for p in records if p.year), None),
        date=dated.date,
        category=next((p.category for p in records if p.category), None),
        arxiv_id=arxiv_id,
        doi=next((p.doi for p in records if p.doi), None),
        url=(with_id.url if with_id and with_id.url else None)
        or next((p.url for p in records if p.url), None),
        code_url=next((p.code_url for p in records if p.code_url), None),
        has_code=any(p.has_code or p.code_url for p in records),
        abstract=abstract,
        sources=sources,
    )
