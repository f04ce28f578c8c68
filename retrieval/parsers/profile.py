"""The profile listing: an author header block, then one entry per paper.

An entry is::

    CLJun 26, 2024Code                      <- <CATEGORY><Mon> <D>[, <YYYY>][Code]
    Title of the paper
                                            <- blank
    A, B, C et al. · allen-ai, cmu          <- authors [· affiliations]
                                            <- blank
    The abstract (one or more lines, up to the next entry header).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice

from retrieval.ids import paper_id_for
from retrieval.models import Paper, ParseIssue, SourceRef
from retrieval.parsers.errors import issue

FORMAT = "profile"

# Anything shaped like a header, even with a bad date ("CLFoo 99, 2024"): it starts an entry.
HEADER = re.compile(
    r"^(?P<cat>[A-Z]{1,8}?)(?P<mon>[A-Z][a-z]{2,8}\.?)\s*(?P<day>\d{1,2})"
    r"(?:,\s*(?P<year>\d{1,4}))?\s*(?P<code>Code)?\s*$"
)
_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_PAPER_COUNT = re.compile(r"^(\d+)\s+Papers?$", re.IGNORECASE)
_ET_AL = re.compile(r",?\s*et al\.?$")


@dataclass(frozen=True)
class _Header:
    category: str
    date: date
    has_code: bool


def looks_like_profile(head: list[str]) -> bool:
    """True when some line is shaped like an entry header and a title line follows it."""
    return any(
        HEADER.match(line) and i + 1 < len(head) and head[i + 1].strip()
        for i, line in enumerate(head)
    )


def _windows(lines: Iterable[str]) -> Iterator[tuple[str, str | None, str | None]]:
    """Each line with the two lines after it (None past the end): a 3-line lookahead."""
    it = iter(lines)
    buf = list(islice(it, 3))
    while buf:
        yield buf[0], buf[1] if len(buf) > 1 else None, buf[2] if len(buf) > 2 else None
        buf.pop(0)
        nxt = next(it, None)
        if nxt is not None:
            buf.append(nxt)


def iter_profile(
    lines: Iterable[str], file: str, *, today: date | None = None
) -> Iterator[Paper | ParseIssue]:
    """A profile listing, one entry at a time; `today` dates entries written without a year.

    An entry starts at a header-shaped line after a blank line, or before a title line and a
    blank line; only the current entry's lines are held.
    """
    today = today or date.today()
    announced: tuple[int, int] | None = None  # (line, N) of the header's "N Papers"
    entry: list[str] = []
    entry_at = 0
    found = 0
    prev = ""
    for i, (line, next1, next2) in enumerate(_windows(lines)):
        starts = HEADER.match(line) is not None and (
            i == 0
            or not prev.strip()
            or (next1 is not None and next2 is not None and next1.strip() and not next2.strip())
        )
        prev = line
        if starts:
            if found:
                yield _parse_entry(entry, entry_at, file, today)
            found += 1
            entry, entry_at = [line], i
        elif found:
            entry.append(line)
        elif announced is None and (m := _PAPER_COUNT.match(line.strip())):
            announced = (i + 1, int(m[1]))
    if found:
        yield _parse_entry(entry, entry_at, file, today)
    if announced is not None and announced[1] != found:
        message = f"the header announces {announced[1]} papers but {found} entries were found"
        yield issue(file, announced[0], message)


def _paragraphs(lines: list[str], start: int, end: int) -> list[tuple[int, list[str]]]:
    """Blank-separated groups of stripped lines in [start, end), each with its first index."""
    groups: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = start
    for i in range(start, end):
        text = lines[i].strip()
        if text:
            if not current:
                first = i
            current.append(text)
        elif current:
            groups.append((first, current))
            current = []
    if current:
        groups.append((first, current))
    return groups


def _parse_header(line: str, default_year: int) -> tuple[_Header | None, str]:
    """The header's fields (no year: `default_year`), or None and what is wrong with it."""
    m = HEADER.match(line)
    if m is None:  # pragma: no cover - callers only pass matching lines
        return None, f"not an entry header: {line!r}"
    mon = m["mon"].rstrip(".").lower()
    month = next((n for n, full in enumerate(_MONTH_NAMES, 1) if full.startswith(mon)), 0)
    if len(mon) < 3 or not month:
        return None, f"bad date in entry header {line.strip()!r}: unknown month {m['mon']!r}"
    if m["year"] is not None and len(m["year"]) != 4:
        return None, f"bad date in entry header {line.strip()!r}: year must have 4 digits"
    year = int(m["year"]) if m["year"] else default_year
    try:
        when = date(year, month, int(m["day"]))
    except ValueError as exc:
        return None, f"bad date in entry header {line.strip()!r}: {exc}"
    return _Header(category=m["cat"], date=when, has_code=bool(m["code"])), ""


def _parse_entry(lines: list[str], base: int, file: str, today: date) -> Paper | ParseIssue:
    """One entry (its header first, `base` the header's 0-based line): a paper or an issue."""
    lineno = base + 1
    header, problem = _parse_header(lines[0], today.year)
    if header is None:
        return issue(file, lineno, f"{problem}; entry skipped")
    groups = _paragraphs(lines, 0, len(lines))
    title = " ".join(groups[0][1][1:])
    if not title:
        return issue(file, lineno, "missing title after the entry header; entry skipped")
    rest = groups[1:]
    if not rest:
        return issue(file, lineno, "missing authors line and abstract; entry skipped")
    authors_at, authors_lines = rest[0]
    authors_text = " ".join(authors_lines)
    if not looks_like_authors(authors_text):
        what = f"missing authors line (line {base + authors_at + 1} reads like abstract text)"
        return issue(file, lineno, f"{what}; entry skipped")
    if len(rest) < 2:
        return issue(file, lineno, "missing abstract after the authors line; entry skipped")
    abstract = " ".join(text for _, group in rest[1:] for text in group)
    authors, truncated, affiliations = split_authors_line(authors_text)
    return Paper(
        paper_id=paper_id_for(arxiv_id=None, title=title, abstract=abstract),
        title=title,
        authors=authors,
        authors_truncated=truncated,
        affiliations=affiliations,
        year=header.date.year,
        date=header.date.isoformat(),
        category=header.category,
        has_code=header.has_code,
        abstract=abstract,
        sources=[SourceRef(file=file, line=lineno, format=FORMAT)],
    )


def split_authors_line(text: str) -> tuple[list[str], bool, list[str]]:
    """`A, B et al. · x, y` -> (["A", "B"], truncated=True, ["x", "y"])."""
    names, _, affs = text.partition(" · ")
    names = names.strip()
    truncated = bool(_ET_AL.search(names))
    names = _ET_AL.sub("", names)
    authors = [n for n in (p.strip() for p in names.split(",")) if n]
    affiliations = [a for a in (p.strip() for p in affs.split(",")) if a]
    return authors, truncated, affiliations


def looks_like_authors(text: str) -> bool:
    """True for a names line (short comma-separated names), False for prose."""
    names = _ET_AL.sub("", text.partition(" · ")[0].strip())
    parts = [p.strip() for p in names.split(",")]
    return bool(names) and all(
        p and len(p) <= 60 and len(p.split()) <= 6 and not re.search(r"\d", p) for p in parts
    )
