"""Sources for a prompt: papers (and search hits) as source candidates, one per paper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from assistant import metadata
from assistant.answer import SourceGiven
from assistant.messages import Listing
from assistant.names import NameTable
from assistant.text import clean_text, sentences, short_title

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


def named_paper(index: PaperIndex, table: NameTable, ref: str) -> Paper | None:
    """The one paper whose title `ref` is (or starts, as its short name), found in the
    collection's name table: what resolving `ref` over every title would give, without
    reading them (None: not known there, resolve it)."""
    known = table.lookup(ref)
    paper = index.get(known) if known else None
    return paper if paper is not None and names(paper, ref) else None


def search_sources(index: PaperIndex, query: str, k: int, table: NameTable) -> list[SourceGiven]:
    """Search hits as source candidates, one per paper, with the paper's full abstract.

    Papers the question names come first, resolved over the whole collection by their
    short title, title acronym or the name their abstract introduces (`table`, the
    collection's), so a comparison always has both sides, whatever the search ranks.
    """
    hits = index.search(query, k, snippets=False)
    wanted = table.named(query)
    # the hits carry their papers; a named paper the search missed is in the loaded records
    known = {h.paper_id: h.paper for h in hits if h.paper is not None}
    if any(i not in known for i in wanted):
        known.update(index.papers_by_id([i for i in wanted if i not in known]))
    named = [known[i] for i in wanted if i in known]
    ids = {p.paper_id for p in named}
    out = [candidate(p, None, None) for p in named]
    out += [candidate(h.paper, h, h.score) for h in hits if h.paper_id not in ids]
    return out[: max(k, len(named))]


LISTING_HEAD_TOKENS = 120  # the count line and its notes


def fit_listing(candidates: list[SourceGiven], answer_tokens: int) -> list[SourceGiven]:
    """The records (oldest first) whose list lines fit in the answer's room: a model cannot
    list more than it may write, so the rest are left out and the answer says how many."""
    from retrieval.tokens import count_tokens

    room = answer_tokens - LISTING_HEAD_TOKENS
    kept: list[SourceGiven] = []
    for n, c in enumerate(candidates, 1):
        first = c.authors[0] if c.authors else ""
        room -= count_tokens(f"- {short_title(c.title)} ({c.year}), {first} et al. [{n}]\n")
        if room < 0 and kept:
            break
        kept.append(c)
    return kept


LISTING_MAX = 1000  # records read for one list answer (the answer's room holds far fewer)
TOPIC_BATCH = 2000  # records read at a time to check a list's topic words


def listing_sources(
    index: PaperIndex,
    question: str,
    table: NameTable | None = None,
    known: Callable[[str], bool] | None = None,
) -> tuple[list[SourceGiven], Listing] | None:
    """Every record a list/metadata question asks for, oldest first (None for others).

    The index answers the filters from its paper table; only the records listed are read
    (all those that match, when the question also names a topic to narrow them by). A
    paper asked about by its name is found in the collection's `table` when it is there,
    else by resolving the reference over the titles. A topic word no matching record has
    still narrows the list when the collection has it (`known`), else it is left out."""
    from retrieval.records import RecordFilter

    query = metadata.parse(question, index.author_names)
    if query is None:
        return None
    if query.kind == "record":
        ref = query.ref or ""
        # the one paper going by that name: its title, else the name its abstract
        # introduces ("the Delphi paper")
        named_id = table.lookup(ref) if table is not None else None
        paper = index.get(named_id) if named_id else None
        if paper is not None:
            return [candidate(paper, None, None)], Listing(query=query, total=1)
        found = index.resolve(ref)
        named = [p for p in found if names(p, ref)]
        if len(named) != 1 and len(found) != 1:
            return None
        paper = named[0] if len(named) == 1 else found[0]
        return [candidate(paper, None, None)], Listing(query=query, total=1)
    record_filter = RecordFilter(
        year_from=query.year_from,
        year_to=query.year_to,
        author=query.author,
        has_code=query.has_code,
        category=query.category,
    )
    ids = index.select_ids(record_filter)
    if query.topic:
        total, matched = _on_topic(index, query, ids, known)
    else:
        total, matched = len(ids), _in_order(index, ids[:LISTING_MAX])
    listed = [brief(candidate(p, None, None)) for p in matched]
    return listed, Listing(query=query, total=total)


def _in_order(index: PaperIndex, ids: list[str]) -> list[Paper]:
    found = index.papers_by_id(ids)
    return [found[i] for i in ids if i in found]


def _batches(index: PaperIndex, ids: list[str]) -> Iterator[list[Paper]]:
    for start in range(0, len(ids), TOPIC_BATCH):
        yield _in_order(index, ids[start : start + TOPIC_BATCH])


def _on_topic(
    index: PaperIndex,
    query: metadata.MetadataQuery,
    ids: list[str],
    known: Callable[[str], bool] | None,
) -> tuple[int, list[Paper]]:
    """(how many, the first `LISTING_MAX`) of the records `ids` (oldest first) on the
    question's topic (`metadata.narrow_to_topic`), reading them in batches."""
    narrowed = metadata.narrow_to_topic(query, lambda: _batches(index, ids), known, LISTING_MAX)
    return narrowed if narrowed is not None else (len(ids), _in_order(index, ids[:LISTING_MAX]))
