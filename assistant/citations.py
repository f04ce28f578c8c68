"""Citation markers: parse them, map them to the sources given, report the invalid ones.

Accepted forms (numbers only, inside square brackets):
  `[2]`, `[1, 3]` and `[1; 3]` (lists), `[1][3]` (adjacent markers), and `[1-3]` / `[1–3]`
  (ranges, expanded to 1, 2, 3; a range longer than MAX_RANGE is read as its two ends).
Anything else in brackets (`[a]`, `[1.2]`, `[Smith 2020]`) is not a marker. A number that
names no given source is an *invalid* citation: it is reported, never silently kept (`renumber`
shows it as `[7?]`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.answer import Citation, SourceGiven
from assistant.text import terms

MAX_RANGE = 20
MARKER = re.compile(r"\[(\s*\d+(?:\s*(?:[,;]|[-–])\s*\d+)*\s*)\]")
_ITEM = re.compile(r"(\d+)\s*[-–]\s*(\d+)|(\d+)")


def marker_numbers(inner: str) -> list[int]:
    """The numbers inside one marker (without brackets), ranges expanded."""
    numbers: list[int] = []
    for match in _ITEM.finditer(inner):
        if match.group(3) is not None:
            numbers.append(int(match.group(3)))
            continue
        lo, hi = int(match.group(1)), int(match.group(2))
        if lo <= hi and hi - lo < MAX_RANGE:
            numbers.extend(range(lo, hi + 1))
        else:
            numbers.extend([lo, hi])
    return numbers


def cited_numbers(text: str) -> list[int]:
    """Every cited number, in order of first appearance, without repeats."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for number in marker_numbers(match.group(1)):
            seen.setdefault(number, None)
    return list(seen)


@dataclass
class CitationCheck:
    """Valid citations (one per source, first-appearance order) and invalid numbers."""

    citations: list[Citation] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)


def check_citations(text: str, sources: Sequence[SourceGiven]) -> CitationCheck:
    """Map the markers in `text` to the given sources; numbers naming none are invalid."""
    by_number = {s.number: s for s in sources}
    check = CitationCheck()
    for number in cited_numbers(text):
        source = by_number.get(number)
        if source is None:
            check.invalid.append(number)
        else:
            check.citations.append(
                Citation(marker=number, paper_id=source.paper_id, title=source.title)
            )
    return check


def renumber(text: str, mapping: dict[int, int]) -> str:
    """Rewrite markers with `mapping` (numbers not in it are kept and suffixed `?`)."""

    def fix(match: re.Match[str]) -> str:
        numbers = marker_numbers(match.group(1))
        shown = ", ".join(str(mapping[n]) if n in mapping else f"{n}?" for n in numbers)
        return f"[{shown}]"

    return MARKER.sub(fix, text)


def strip_markers(text: str) -> str:
    """The text without citation markers (for history given back to the model)."""
    return re.sub(rf"[ \t]*{MARKER.pattern}", "", text).strip()


_CLAUSE = re.compile(r"[^\[]*?(?:\[[^\]]*\]\s*)+", re.DOTALL)


def unsupported_citations(
    text: str, sources: Sequence[SourceGiven], min_overlap: float = 0.3
) -> list[int]:
    """Valid markers whose cited source shares few content words with the cited sentence.

    A lexical heuristic (it suits extractive answers best): for each stretch of text that
    ends in markers, the share of its content terms found in the cited source.
    """
    by_number = {s.number: s for s in sources}
    source_terms: dict[int, set[str]] = {}
    flagged: dict[int, None] = {}
    for match in _CLAUSE.finditer(text):
        chunk = match.group(0)
        claim = MARKER.sub("", chunk)
        claim_terms = set(terms(claim, drop_generic=True))
        if len(claim_terms) < 3:
            continue
        for marker in MARKER.finditer(chunk):
            for number in marker_numbers(marker.group(1)):
                source = by_number.get(number)
                if source is None:
                    continue
                if number not in source_terms:
                    record = f"{source.title} {' '.join(source.authors)} {source.year or ''}"
                    source_terms[number] = set(terms(f"{record} {source.text}"))
                overlap = len(claim_terms & source_terms[number]) / len(claim_terms)
                if overlap < min_overlap:
                    flagged.setdefault(number, None)
    return list(flagged)
