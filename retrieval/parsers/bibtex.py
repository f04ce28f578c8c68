"""BibTeX: entries with an `abstract` field become papers (bibtexparser 2, imported lazily)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from retrieval.ids import normalize_doi, paper_id_for
from retrieval.models import Paper, ParseIssue, SourceRef
from retrieval.parsers.arxiv_listing import display_title, id_year_month, split_id
from retrieval.parsers.errors import SourceFileError, issue

if TYPE_CHECKING:
    from bibtexparser.library import Library
    from bibtexparser.middlewares.middleware import Middleware
    from bibtexparser.model import Entry, ParsingFailedBlock

FORMAT = "bibtex"

_ARXIV_IN_TEXT = re.compile(r"arxiv[:./\s]*(?:abs/|pdf/)?", re.IGNORECASE)
_YEAR = re.compile(r"^\s*(\d{4})\s*$")


_ENTRY_START = re.compile(r"^\s*@[A-Za-z]+\s*[{(]")
# Lines per bibtexparser call (cut at the next entry start): bounded memory for big files.
BATCH_LINES = 5000
_RAW_PERCENT = re.compile(r"(?<!\\)%")
# Text outside entries that looks like an entry that lost its '@' ("article{key,").
_LOST_ENTRY = re.compile(r"^\s*[A-Za-z]+\s*[{(]\s*[^\s,]*\s*,", re.MULTILINE)


def _percent_is_text() -> Middleware:
    """A middleware escaping raw `%` in field values before LaTeX decoding.

    In a BibTeX value `%` is content ("miss 40% of attacks"); the LaTeX decoder would read
    it as a comment and drop the rest of the line.
    """
    from bibtexparser.middlewares.middleware import BlockMiddleware

    class PercentIsText(BlockMiddleware):
        def transform_entry(self, entry: Entry, library: Library) -> Entry:
            for f in entry.fields:
                if isinstance(f.value, str) and "%" in f.value:
                    f.value = _RAW_PERCENT.sub(r"\\%", f.value)
            return entry

    return PercentIsText()


def _parse_library(text: str) -> Library:
    """bibtexparser with LaTeX decoding, lower-case field keys, authors split, months as ints."""
    import bibtexparser
    import bibtexparser.middlewares as m

    stack = [
        m.NormalizeFieldKeys(),
        _percent_is_text(),
        m.LatexDecodingMiddleware(),
        m.SeparateCoAuthors(),
        m.MonthIntMiddleware(allow_inplace_modification=True),
    ]
    log = logging.getLogger("bibtexparser")
    level = log.level
    log.setLevel(logging.ERROR)  # its warnings about bad blocks become our issues instead
    try:
        return bibtexparser.parse_string(text, append_middleware=stack)
    finally:
        log.setLevel(level)


def _first_last(name: str) -> str:
    """`Doe, Jane` -> `Jane Doe` (BibTeX name order rules)."""
    from bibtexparser.middlewares.names import parse_single_name_into_parts

    if "," not in name:
        return " ".join(name.split())
    return parse_single_name_into_parts(name, strict=False).merge_first_name_first


def _clean(value: object) -> str:
    """A field value as one line of text."""
    return " ".join(str(value).split()) if value is not None else ""


def find_arxiv_id(fields: dict[str, str]) -> str | None:
    """The arXiv id from `eprint` (arXiv prefix), an arXiv DOI/URL, or a `arXiv:<id>` note."""
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    eprint = fields.get("eprint", "")
    if eprint and (prefix == "arxiv" or not prefix):
        found = split_id(eprint.strip().removeprefix("arXiv:"))[0]
        if found:
            return found
    for key in ("doi", "url", "journal", "note", "howpublished", "eprint"):
        for m in _ARXIV_IN_TEXT.finditer(fields.get(key, "")):
            found = split_id(fields[key][m.end() :])[0]
            if found:
                return found
    return None


def _entry_paper(entry: Entry, file: str, line: int, issues: list[ParseIssue]) -> Paper | None:
    """A paper from one entry (starting on `line`), or None (and an issue) if it cannot be."""
    fields = {f.key: f.value for f in entry.fields}
    text = {k: _clean(v) for k, v in fields.items() if not isinstance(v, list)}
    abstract = text.get("abstract", "")
    if not abstract:
        issues.append(issue(file, line, f"entry '{entry.key}' has no abstract field; skipped"))
        return None
    arxiv_id = find_arxiv_id(text)
    title = text.get("title") or None
    if not (title or arxiv_id):
        message = f"entry '{entry.key}' has no title and no arXiv id; skipped"
        issues.append(issue(file, line, message))
        return None
    year = None
    if "year" in text:
        m = _YEAR.match(text["year"])
        if m is None:
            message = f"entry '{entry.key}': bad year {text['year']!r}; skipped"
            issues.append(issue(file, line, message))
            return None
        year = int(m[1])
    month = fields.get("month")
    if month is not None and not (isinstance(month, int) and 1 <= month <= 12):
        message = f"entry '{entry.key}': month {_clean(month)!r} not understood; field ignored"
        issues.append(issue(file, line, message))
    when = f"{year}-{month:02d}" if year and isinstance(month, int) and 1 <= month <= 12 else None
    if when is None and arxiv_id:
        id_year, id_month = id_year_month(arxiv_id)
        if year in (None, id_year):  # the id's month refines a matching year
            year, when = id_year, id_month
    authors = fields.get("author", [])
    names = [_first_last(a) for a in (authors if isinstance(authors, list) else [authors])]
    doi = normalize_doi(text.get("doi", ""))
    if text.get("doi") and doi is None:
        message = f"entry '{entry.key}': 'doi' {text['doi']!r} is not a DOI; field ignored"
        issues.append(issue(file, line, message))
    if doi and doi.startswith("10.48550/"):  # arXiv's own DOI: already the arXiv id
        doi = None
    url = text.get("url") or (f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None)
    return Paper(
        paper_id=paper_id_for(arxiv_id=arxiv_id, title=title, abstract=abstract),
        title=title or display_title(abstract, arxiv_id),
        title_is_display=title is None,
        authors=[n for n in names if n and n.lower() != "others"],
        authors_truncated=any(n.lower() == "others" for n in names),
        year=year,
        date=when or (str(year) if year else None),
        arxiv_id=arxiv_id,
        doi=doi,
        url=url or (f"https://doi.org/{doi}" if doi else None),
        abstract=abstract,
        sources=[SourceRef(file=file, line=line, format=FORMAT)],
    )


def _failure_message(block: ParsingFailedBlock, offset: int) -> str:
    """What went wrong with a block bibtexparser could not turn into an entry."""
    kind = type(block).__name__
    if kind == "DuplicateBlockKeyBlock":
        first = getattr(block, "previous_block", None)
        at = first.start_line if first is not None else None
        where = f" (first on line {at + offset + 1})" if at is not None else ""
        return f"duplicate entry key {getattr(block, 'key', '?')!r}{where}; skipped"
    if kind == "DuplicateFieldKeyBlock":
        keys = ", ".join(sorted(getattr(block, "duplicate_keys", set())))
        return f"entry repeats the field(s) {keys}; skipped"
    error = block.error
    reason = _clean(getattr(error, "abort_reason", None) or error or type(error).__name__)
    if kind == "MiddlewareErrorBlock":
        return f"cannot decode this entry: {reason}; skipped"
    return f"BibTeX syntax error: {reason}; block skipped"


def _batches(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(0-based first line, lines) of about BATCH_LINES lines, cut only at an entry start."""
    batch: list[str] = []
    start = 0
    for i, line in enumerate(lines):
        if len(batch) >= BATCH_LINES and _ENTRY_START.match(line):
            yield start, batch
            batch, start = [], i
        batch.append(line)
    if batch:
        yield start, batch


def iter_bibtex(lines: Iterable[str], file: str) -> Iterator[Paper | ParseIssue]:
    """A BibTeX file in batches of entries: papers for entries with abstracts, else issues.

    bibtexparser reads a string at a time, so the file is cut at entry starts into batches;
    `@string` definitions are carried to later batches and repeated keys are checked across
    them, so the result equals one parse of the whole file, in bounded memory.
    """
    strings: list[str] = []
    seen: dict[str, int] = {}
    for start, batch in _batches(lines):
        prefix = "".join(f"{raw}\n" for raw in strings)
        offset = start - prefix.count("\n")  # bibtexparser's 0-based line -> file line - 1
        try:
            library = _parse_library(prefix + "\n".join(batch))
        except Exception as exc:  # a bug or limit inside bibtexparser: the file is unusable
            raise SourceFileError(file, f"the BibTeX parser failed: {exc}") from exc
        found: list[Paper | ParseIssue] = []
        for block in library.failed_blocks:
            line = (block.start_line or 0) + offset + 1
            found.append(issue(file, line, _failure_message(block, offset)))
        for comment in library.comments:
            lost = _LOST_ENTRY.search(getattr(comment, "comment", ""))
            if lost is not None:
                at = (comment.start_line or 0) + offset
                at += comment.comment[: lost.start()].count("\n") + 1
                message = f"text outside any entry ignored: {lost[0].strip()!r}... (a missing '@'?)"
                found.append(issue(file, at, message))
        for string in library.strings:
            if (string.start_line or 0) + offset >= start and string.raw:
                strings.append(string.raw)
        for entry in library.entries:
            line = (entry.start_line or 0) + offset + 1
            if entry.key in seen:
                message = f"duplicate entry key {entry.key!r} (first on line {seen[entry.key]})"
                found.append(issue(file, line, f"{message}; skipped"))
                continue
            seen[entry.key] = line
            problems: list[ParseIssue] = []
            paper = _entry_paper(entry, file, line, problems)
            found.extend(problems)
            if paper is not None:
                found.append(paper)
        found.sort(key=lambda x: x.line if isinstance(x, ParseIssue) else x.sources[0].line)
        yield from found


def looks_like_bibtex(head: list[str]) -> bool:
    """True when a line starts a BibTeX entry (`@article{`)."""
    return any(_ENTRY_START.match(line) for line in head)
