"""Input parsers: detect a file's format, parse it into papers and `file:line` issues.

Formats (docs/formats.md): JSONL (.jsonl, .ndjson), BibTeX (.bib, .bibtex), and two text
listings sniffed by content (.txt or any other text file): the profile listing and the
arXiv listing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from retrieval.models import ParseResult
from retrieval.parsers.errors import SourceFileError

__all__ = [
    "FORMATS",
    "SUFFIXES",
    "SourceFileError",
    "detect_format",
    "iter_source_files",
    "parse_file",
    "read_text",
]

FORMATS = ("jsonl", "bibtex", "profile", "arxiv-listing")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".bib": "bibtex", ".bibtex": "bibtex"}
# Folders are expanded to files with these suffixes (.txt is sniffed by content).
FOLDER_SUFFIXES = frozenset({*SUFFIXES, ".txt"})

_SUPPORTED = (
    "JSONL (.jsonl, .ndjson), BibTeX (.bib, .bibtex), or a profile listing or arXiv "
    "listing as text (.txt); see docs/formats.md"
)
_BIBTEX_ENTRY = re.compile(r"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)


def read_text(path: Path) -> str:
    """The file's text (UTF-8), or SourceFileError if it is not a readable, non-empty text."""
    if path.is_dir():
        raise SourceFileError(path, "is a directory, not a file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceFileError(path, "no such file") from None
    except PermissionError:
        raise SourceFileError(path, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise SourceFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise SourceFileError(path, "binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        reason = f"not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}): binary file?"
        raise SourceFileError(path, reason) from None
    if not text.strip():
        raise SourceFileError(path, "empty file" if not text else "file has only whitespace")
    return text


def detect_format(path: Path, text: str) -> str:
    """One of FORMATS: by suffix for JSONL/BibTeX, else sniffed from the content."""
    from retrieval.parsers.arxiv_listing import looks_like_arxiv_listing
    from retrieval.parsers.profile import looks_like_profile

    by_suffix = SUFFIXES.get(path.suffix.lower())
    if by_suffix:
        return by_suffix
    first = next(line.strip() for line in text.splitlines() if line.strip())
    if first.startswith("{"):
        return "jsonl"
    if _BIBTEX_ENTRY.search(text):
        return "bibtex"
    if looks_like_profile(text):
        return "profile"
    if looks_like_arxiv_listing(text):
        return "arxiv-listing"
    raise SourceFileError(path, f"unknown format: expected {_SUPPORTED}")


def parse_file(path: Path, *, today: date | None = None) -> ParseResult:
    """Parse one input file; `today` dates the profile listing's year-less dates."""
    text = read_text(path)
    fmt = detect_format(path, text)
    file = str(path)
    if fmt == "jsonl":
        from retrieval.parsers.jsonl import parse_jsonl

        return parse_jsonl(text, file)
    if fmt == "bibtex":
        from retrieval.parsers.bibtex import parse_bibtex

        return parse_bibtex(text, file)
    if fmt == "profile":
        from retrieval.parsers.profile import parse_profile

        return parse_profile(text, file, today=today)
    from retrieval.parsers.arxiv_listing import parse_arxiv_listing

    return parse_arxiv_listing(text, file)


def iter_source_files(paths: Sequence[Path]) -> list[Path]:
    """Files to ingest: files as given, folders expanded recursively (sorted, no hidden)."""
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
