"""Input parsers: detect a file's format, stream its papers and `file:line` issues.

The formats live in one table, `retrieval.parsers.registry.FORMATS` (docs/formats.md):
JSONL (.jsonl, .ndjson), BibTeX (.bib, .bibtex), and two text listings sniffed by content
(.txt or any other text file): the profile listing and the arXiv listing.

`iter_parse(path)` yields records one at a time (bounded memory whatever the file size);
`parse_file(path)` collects them into a `ParseResult`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from retrieval.models import Paper, ParseIssue, ParseResult
from retrieval.parsers.errors import SourceFileError
from retrieval.parsers.source import check_file, head, iter_lines, text_lines

__all__ = [
    "FORMATS",
    "SourceFileError",
    "detect_format",
    "iter_parse",
    "iter_source_files",
    "parse_file",
    "read_text",
]


def __getattr__(name: str) -> object:
    # The format table is loaded on first use (it imports every parser module).
    if name == "FORMATS":
        from retrieval.parsers.registry import FORMATS

        return tuple(f.name for f in FORMATS)
    raise AttributeError(name)


def read_text(path: Path) -> str:
    """The file's text (UTF-8), or SourceFileError if it is not a readable, non-empty text."""
    check_file(path)
    return path.read_text(encoding="utf-8-sig")


def detect_format(path: Path, text: str | None = None) -> str:
    """The format's name: by suffix, else sniffed from the first lines (of `text` if given)."""
    from retrieval.parsers.registry import BY_SUFFIX, SUPPORTED, find_format
    from retrieval.parsers.source import HEAD_LINES

    by_suffix = BY_SUFFIX.get(path.suffix.lower())
    if by_suffix is not None:  # no need to read the file
        return by_suffix.name
    lines = text_lines(text)[:HEAD_LINES] if text is not None else head(path)
    found = find_format(path.suffix, lines)
    if found is None:
        raise SourceFileError(path, f"unknown format: expected {SUPPORTED}")
    return found.name


def iter_parse(path: Path, *, today: date | None = None) -> Iterator[Paper | ParseIssue]:
    """Papers and issues of one file, one at a time, in file order; display text cleaned.

    The file is checked (readable, UTF-8, not empty) and its format found before this
    returns, so SourceFileError comes at once; the records are then read lazily.
    `today` dates the profile listing's year-less dates.
    """
    from retrieval.parsers.clean import clean_issue, clean_paper
    from retrieval.parsers.registry import BY_NAME

    check_file(path)
    fmt = BY_NAME[detect_format(path)]
    records = fmt.parse(iter_lines(path), str(path), today)
    return (clean_paper(r) if isinstance(r, Paper) else clean_issue(r) for r in records)


def parse_file(path: Path, *, today: date | None = None) -> ParseResult:
    """All papers and issues of one file (issues sorted by line)."""
    result = ParseResult()
    for record in iter_parse(path, today=today):
        if isinstance(record, Paper):
            result.papers.append(record)
        else:
            result.issues.append(record)
    result.issues.sort(key=lambda i: i.line)
    return result


def iter_source_files(paths: Sequence[Path]) -> list[Path]:
    """Files to ingest: files as given, folders expanded recursively (sorted, no hidden)."""
    from retrieval.parsers.registry import FOLDER_SUFFIXES

    found: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in FOLDER_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.is_file()
            )
        else:
            candidates = [path]
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found
