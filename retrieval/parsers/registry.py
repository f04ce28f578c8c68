"""The table of input formats: a name, how a file is recognized, and its streaming parser.

Adding a format is one `Format` entry in `FORMATS` (docs/formats.md, "Adding a format").
Detection: a file whose suffix a format claims is that format; otherwise the formats'
sniffers are asked in table order, each given the file's first lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from retrieval.models import Paper, ParseIssue
from retrieval.parsers.arxiv_listing import iter_arxiv_listing, looks_like_arxiv_listing
from retrieval.parsers.bibtex import iter_bibtex, looks_like_bibtex
from retrieval.parsers.jsonl import iter_jsonl, looks_like_jsonl
from retrieval.parsers.profile import iter_profile, looks_like_profile

Record = Paper | ParseIssue
# parse(lines, file, today): records and issues, one at a time, in file order.
ParseFn = Callable[[Iterable[str], str, date | None], Iterator[Record]]


@dataclass(frozen=True)
class Format:
    """One input format."""

    name: str  # the `sources[].format` of its records
    label: str  # how error messages name it
    parse: ParseFn
    sniff: Callable[[list[str]], bool]  # True when the file's first lines are this format
    suffixes: tuple[str, ...] = ()  # chosen by suffix, no sniffing
    in_folders: tuple[str, ...] = field(default=())  # extra suffixes a folder is expanded to


FORMATS: tuple[Format, ...] = (
    Format(
        name="jsonl",
        label="JSONL (.jsonl, .ndjson)",
        parse=lambda lines, file, today: iter_jsonl(lines, file),
        sniff=looks_like_jsonl,
        suffixes=(".jsonl", ".ndjson"),
    ),
    Format(
        name="bibtex",
        label="BibTeX (.bib, .bibtex)",
        parse=lambda lines, file, today: iter_bibtex(lines, file),
        sniff=looks_like_bibtex,
        suffixes=(".bib", ".bibtex"),
    ),
    Format(
        name="profile",
        label="a profile listing as text (.txt)",
        parse=lambda lines, file, today: iter_profile(lines, file, today=today),
        sniff=looks_like_profile,
        in_folders=(".txt",),
    ),
    Format(
        name="arxiv-listing",
        label="an arXiv listing as text (.txt)",
        parse=lambda lines, file, today: iter_arxiv_listing(lines, file),
        sniff=looks_like_arxiv_listing,
        in_folders=(".txt",),
    ),
)

BY_NAME = {f.name: f for f in FORMATS}
BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
# Folders are expanded to files with these suffixes (the others are sniffed by content).
FOLDER_SUFFIXES = frozenset(s for f in FORMATS for s in (*f.suffixes, *f.in_folders))
SUPPORTED = ", ".join(f.label for f in FORMATS) + "; see docs/formats.md"


def find_format(suffix: str, head: list[str]) -> Format | None:
    """The format a file is in: by its suffix, else the first sniffer that recognizes it."""
    by_suffix = BY_SUFFIX.get(suffix.lower())
    if by_suffix is not None:
        return by_suffix
    return next((f for f in FORMATS if f.sniff(head)), None)
