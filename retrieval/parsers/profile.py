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
from dataclasses import dataclass
from datetime import date

from retrieval.ids import paper_id_for
from retrieval.models import Paper, ParseIssue, ParseResult, SourceRef
from retrieval.parsers.errors import issue, split_lines

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


def looks_like_profile(text: str) -> bool:
    """True when some line is shaped like an entry header and a title line follows it."""
    lines = split_lines(text)
    return any(
        HEADER.match(line) and i + 1 < len(lines) and lines[i + 1].strip()
        for i, line in enumerate(lines)
    )


def parse_profile(text: str, file: str, *, today: date | None = None) -> ParseResult:
    """Parse a profile listing; `today` supplies the year of dates written without one."""
    today = today or date.today()
    lines = split_lines(text)
    starts = _entry_starts(lines)
    result = ParseResult()
    ends = [*starts[1:], len(lines)]
    for start, end in zip(starts, ends, strict=True):
        paper = _parse_entry(lines, start, end, file, today, result.issues)
        if paper is not None:
            result.papers.append(paper)
    _check_announced_count(lines[: starts[0]] if starts else lines, len(starts), file, result)
    result.issues.sort(key=lambda i: i.line)
    return result


def _entry_starts(lines: list[str]) -> list[int]:
    """Indexes of header lines: header-shaped, after a blank line or before a title + blank."""
    starts = []
    for i, line in enumerate(lines):
        if not HEADER.match(line):
            continue
        after_blank = i == 0 or not lines[i - 1].strip()
        before_title = i + 2 < len(lines) and lines[i + 1].strip() and not lines[i + 2].strip()
        if after_blank or before_title:
            starts.append(i)
    return starts


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


def _parse_entry(
    lines: list[str], start: int, end: int, file: str, today: date, issues: list[ParseIssue]
) -> Paper | None:
    """One entry from its header index to the next header; None (and an issue) if malformed."""
    lineno = start + 1
    header, problem = _parse_header(lines[start], today.year)
    if header is None:
        issues.append(issue(file, lineno, f"{problem}; entry skipped"))
        return None
    groups = _paragraphs(lines, start, end)
    title = " ".join(groups[0][1][1:])
    if not title:
        issues.append(issue(file, lineno, "missing title after the entry header; entry skipped"))
        return None
    rest = groups[1:]
    if not rest:
        issues.append(issue(file, lineno, "missing authors line and abstract; entry skipped"))
        return None
    authors_at, authors_lines = rest[0]
    authors_text = " ".join(authors_lines)
    if not looks_like_authors(authors_text):
        what = f"missing authors line (line {authors_at + 1} reads like abstract text)"
        issues.append(issue(file, lineno, f"{what}; entry skipped"))
        return None
    if len(rest) < 2:
        issues.append(issue(file, lineno, "missing abstract after the authors line; entry skipped"))
        return None
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


def _check_announced_count(preamble: list[str], found: int, file: str, result: ParseResult) -> None:
    """Report when the header's "N Papers" line disagrees with the entries found."""
    for i, line in enumerate(preamble):
        m = _PAPER_COUNT.match(line.strip())
        if m and int(m[1]) != found:
            message = f"the header announces {m[1]} papers but {found} entries were found"
            result.issues.append(issue(file, i + 1, message))
        if m:
            return
