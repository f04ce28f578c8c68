"""The arXiv listing: abstracts run together, each closed by `arXiv:<id>`.

The closing id line carries the next abstract on the same line::

    First abstract ...
    Code: https://github.com/x/y            <- optional: becomes code_url
    46 pages, 1 figure                      <- optional comment: ignored
    arXiv:2503.05728Second abstract ...
    arXiv:2502.05305

There are no titles: each record gets a display title built from its abstract and id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from retrieval.ids import paper_id_for
from retrieval.models import Paper, ParseIssue, SourceRef
from retrieval.parsers.errors import issue

FORMAT = "arxiv-listing"

_ID_LINE = re.compile(r"^arXiv:", re.IGNORECASE)
_OLD_ID = re.compile(r"(?P<id>[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/(?P<yymm>\d{4})\d{3})(?:v\d+)?")
_BAD_TOKEN = re.compile(r"\S*?(?=[A-Z][a-z]|\s|$)")
_CODE = re.compile(r"^Code:\s*(?P<url>\S+)\s*$", re.IGNORECASE)
_LINK = re.compile(r"^[A-Za-z][\w .-]{0,40}:\s*https?://\S+\s*$")
_COMMENT = re.compile(
    r"^\s*(?:\d+\s*(?:pages?|figures?|tables?|pp\.?)\b|(?:accepted|to appear|published|"
    r"camera[- ]ready|preprint|under review|comments?:|submitted|journal ref)\b)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_WEAK_TAIL = {"a", "an", "the", "of", "on", "in", "to", "for", "and", "or", "with", "by", "as"}
DISPLAY_WORDS = 9


@dataclass
class _Pending:
    """The record being read: where its abstract starts, its text and links."""

    line: int = 0
    parts: list[str] = field(default_factory=list)
    code_url: str | None = None


def looks_like_arxiv_listing(head: list[str]) -> bool:
    """True when some line starts with `arXiv:` followed by a valid id."""
    return any(_ID_LINE.match(line) and split_id(line[6:])[0] for line in head)


def split_id(tail: str) -> tuple[str | None, str, str]:
    """Split what follows `arXiv:` into (valid id or None, the id-like token, the rest)."""
    m = re.match(r"(?P<yymm>\d{4})\.", tail)
    if m:
        digits = 5 if int(m["yymm"]) >= 1501 else 4
        new = re.match(rf"(?P<id>\d{{4}}\.\d{{{digits}}})(?:v\d+)?", tail)
        if new and 1 <= int(m["yymm"][2:]) <= 12:
            return new["id"], new[0], tail[new.end() :]
    old = _OLD_ID.match(tail)
    if old and 1 <= int(old["yymm"][2:]) <= 12:
        return old["id"], old[0], tail[old.end() :]
    bad = _BAD_TOKEN.match(tail)
    token = bad[0] if bad else ""
    return None, token, tail[len(token) :]


def id_year_month(arxiv_id: str) -> tuple[int, str]:
    """The year and ISO month ("2025-04") an arXiv id was issued in."""
    yymm = arxiv_id.split("/")[-1][:4]
    yy, mm = int(yymm[:2]), yymm[2:]
    year = 1900 + yy if "/" in arxiv_id and yy >= 91 else 2000 + yy
    return year, f"{year}-{mm}"


def display_title(abstract: str, arxiv_id: str | None = None) -> str:
    """A readable stand-in title: the first words of the first sentence, '…', the id."""
    sentence = _SENTENCE_END.split(abstract.strip(), maxsplit=1)[0]
    words = sentence.split()[:DISPLAY_WORDS]
    while len(words) > 3 and words[-1].lower().strip(",;:") in _WEAK_TAIL:
        words.pop()
    text = " ".join(words).rstrip(".,;:!?-–—") + "…"
    return f"{text} (arXiv:{arxiv_id})" if arxiv_id else text


def iter_arxiv_listing(lines: Iterable[str], file: str) -> Iterator[Paper | ParseIssue]:
    """An arXiv listing, one record at a time (display titles), malformed ones reported."""
    pending = _Pending()
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if _ID_LINE.match(line):
            arxiv_id, token, rest = split_id(line[6:])
            yield _close(pending, arxiv_id, token, lineno, file)
            pending = _Pending()
            line = rest.strip()
        if not line:
            continue
        if not pending.parts:
            pending.line, pending.parts = lineno, [line]
        elif (m := _CODE.match(line)) and pending.code_url is None:
            pending.code_url = m["url"]
        elif m or _LINK.match(line):  # a link with no field to keep it: said, not lost
            message = f"link line {line!r} not kept (only a first 'Code:' link is)"
            yield issue(file, lineno, message)
        elif not (len(line) <= 300 and _COMMENT.match(line)):
            pending.parts.append(line)
    if pending.parts:
        message = "abstract has no closing arXiv id (end of file reached); record skipped"
        yield issue(file, pending.line, message)


def _close(
    pending: _Pending, arxiv_id: str | None, token: str, lineno: int, file: str
) -> Paper | ParseIssue:
    """The pending abstract as a paper closed by `arxiv_id`, or the issue saying why not."""
    if not pending.parts:
        return issue(file, lineno, f"arXiv id {token or '(empty)'!r} closes no abstract")
    if arxiv_id is None:
        message = (
            f"invalid arXiv id {token or '(empty)'!r} closing the abstract "
            f"that starts on line {pending.line}; record skipped"
        )
        return issue(file, lineno, message)
    abstract = " ".join(pending.parts)
    year, month = id_year_month(arxiv_id)
    return Paper(
        paper_id=paper_id_for(arxiv_id=arxiv_id, title=None, abstract=abstract),
        title=display_title(abstract, arxiv_id),
        title_is_display=True,
        year=year,
        date=month,
        arxiv_id=arxiv_id,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        code_url=pending.code_url,
        has_code=pending.code_url is not None,
        abstract=abstract,
        sources=[SourceRef(file=file, line=pending.line, format=FORMAT)],
    )
