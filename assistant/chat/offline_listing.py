"""The offline model's answers to list and metadata questions, from the records it is given.

The orchestrator selected every record that meets the question's filters (`Listing`); the
answer states how many there are and lists each with its year and authors, cited.
"""

from __future__ import annotations

from assistant.chat.offline_prompt import ParsedSource
from assistant.messages import Listing
from assistant.text import format_authors


def _line(source: ParsedSource) -> str:
    year = f" ({source.year})" if source.year else ""
    first = source.authors[0] if source.authors else ""
    by = f", {first}" + (" et al." if len(source.authors) > 1 or source.authors_truncated else "")
    return f"- {source.short_title}{year}{by if first else ''} [{source.number}]"


def record_answer(source: ParsedSource, field: str | None) -> str:
    """ "Who wrote X" / "when was X published" for the one paper asked about."""
    year = f" ({source.year})" if source.year else ""
    if field == "year":
        when = f"was published in {source.year}" if source.year else "has no year in its record"
        return f"{source.title} {when} [{source.number}]."
    if not source.authors:
        return f"The record of {source.title}{year} lists no authors [{source.number}]."
    if field == "first_author":
        first = source.authors[0]
        return f"The first listed author of {source.title}{year} is {first} [{source.number}]."
    names = format_authors(source.authors, truncated=source.authors_truncated, limit=20)
    if source.authors_truncated:
        return (
            f"{source.title}{year} is by {names}; the record lists only these first "
            f"{len(source.authors)} authors [{source.number}]."
        )
    return f"{source.title}{year} is by {names} [{source.number}]."


def _narrower(listing: Listing) -> str:
    """The filters the question could add to list fewer papers."""
    query = listing.query
    ways = []
    if query.year_from is None or query.year_from != query.year_to:
        ways.append("a year")
    if not query.author:
        ways.append("an author")
    ways.append("a topic")
    return ", ".join(ways[:-1]) + " or " + ways[-1] if len(ways) > 1 else ways[0]


def listing_answer(sources: list[ParsedSource], listing: Listing) -> str:
    """Every matching record: a count line, then one cited line per paper."""
    query = listing.query
    criteria = query.criteria() or "in it"
    if query.kind == "record":
        if not sources:
            return "The collection has no paper of that name."
        return record_answer(sources[0], query.field)
    total = listing.total
    if total == 0:
        return f"The collection has no paper {criteria}."
    noun = "paper" if total == 1 else "papers"
    notes: list[str] = []
    if len(sources) < total:
        notes.append(
            f"the first {len(sources)}, oldest first, are listed; a narrower question "
            f"({_narrower(listing)}) lists the others"
        )
    if query.author and any(s.authors_truncated for s in sources):
        notes.append(
            "some records list only their first authors, so a paper where "
            f"{query.author} is a later author is not counted"
        )
    if query.ignored:
        quoted = " ".join(query.ignored)
        notes.append(f'none of them mentions "{quoted}", so that part was not used')
    note = f" ({'; '.join(notes)})" if notes else ""
    lines = [f"The collection has {total} {noun} {criteria}{note}:"]
    lines.extend(_line(s) for s in sources)
    return "\n".join(lines)
