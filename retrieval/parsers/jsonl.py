"""JSONL: one paper per line as a JSON object, validated by `JsonlPaper` (docs/formats.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retrieval.ids import is_arxiv_id, normalize_arxiv_id, normalize_doi, paper_id_for
from retrieval.models import Paper, ParseIssue, SourceRef
from retrieval.parsers.arxiv_listing import display_title, id_year_month
from retrieval.parsers.errors import issue

FORMAT = "jsonl"

_ET_AL = re.compile(r",?\s*et al\.?$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def split_names(value: str) -> list[str]:
    """`"A and B"` / `"A, B"` / `"Doe, Jane and Roe, Rick"` -> a list of names."""
    parts = [p.strip() for p in re.split(r"\s+and\s+", value.strip()) if p.strip()]
    if len(parts) > 1 and all(p.count(",") == 1 for p in parts):
        return [" ".join(reversed([s.strip() for s in p.split(",")])) for p in parts]
    return [n for p in parts for n in (s.strip() for s in p.split(",")) if n]


class JsonlPaper(BaseModel):
    """The JSONL record schema: `abstract` plus `title` or `arxiv_id` are required."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    abstract: str = Field(min_length=1)
    title: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    authors: list[str] = Field(default_factory=list)
    authors_truncated: bool = False
    affiliations: list[str] = Field(default_factory=list)
    year: int | None = Field(default=None, ge=1000, le=2999)
    date: str | None = None
    category: str | None = None
    url: str | None = None
    code_url: str | None = None
    has_code: bool | None = None

    @field_validator("authors", mode="before")
    @classmethod
    def _split_authors(cls, value: Any) -> Any:
        return split_names(value) if isinstance(value, str) else value

    @field_validator("affiliations", mode="before")
    @classmethod
    def _split_affiliations(cls, value: Any) -> Any:
        return [a.strip() for a in value.split(",")] if isinstance(value, str) else value

    @field_validator("arxiv_id")
    @classmethod
    def _check_arxiv_id(cls, value: str | None) -> str | None:
        if not value:
            return None
        normal = normalize_arxiv_id(value)
        if not (is_arxiv_id(normal) or re.fullmatch(r"[a-z-]+(\.[A-Z]{2})?/\d{7}", normal)):
            raise ValueError(f"not an arXiv id: {value!r}")
        return normal

    @field_validator("doi")
    @classmethod
    def _check_doi(cls, value: str | None) -> str | None:
        if not value:
            return None
        doi = normalize_doi(value)
        if doi is None:
            raise ValueError(f"not a DOI: {value!r}")
        return doi

    @field_validator("date")
    @classmethod
    def _check_date(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not _DATE.match(value):
            raise ValueError("expected YYYY, YYYY-MM or YYYY-MM-DD")
        parts = [int(p) for p in value.split("-")] + [1, 1]
        date(parts[0], parts[1], parts[2])  # raises ValueError on a bad month/day
        return value

    @model_validator(mode="after")
    def _check_identity(self) -> JsonlPaper:
        if not (self.title or self.arxiv_id):
            raise ValueError("a record needs a 'title' or an 'arxiv_id'")
        if self.year and self.date and int(self.date[:4]) != self.year:
            raise ValueError(f"'year' {self.year} disagrees with 'date' {self.date!r}")
        return self

    def to_paper(self, file: str, line: int) -> Paper:
        """The `Paper` this record describes."""
        authors = list(self.authors)
        truncated = self.authors_truncated
        if authors and _ET_AL.search(authors[-1]):
            authors[-1] = _ET_AL.sub("", authors[-1])
            truncated = True
        year, when = self.year, self.date
        if when is None and self.arxiv_id:
            id_year, id_month = id_year_month(self.arxiv_id)
            if year in (None, id_year):  # the id's month refines a matching year
                year, when = id_year, id_month
        url = self.url or (f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None)
        abstract = " ".join(self.abstract.split())
        title = " ".join(self.title.split()) if self.title else None
        return Paper(
            paper_id=paper_id_for(arxiv_id=self.arxiv_id, title=title, abstract=abstract),
            title=title or display_title(abstract, self.arxiv_id),
            title_is_display=title is None,
            authors=[a for a in (a.strip() for a in authors) if a],
            authors_truncated=truncated,
            affiliations=[a for a in (a.strip() for a in self.affiliations) if a],
            year=year or (int(when[:4]) if when else None),
            date=when or (str(year) if year else None),
            category=self.category or None,
            arxiv_id=self.arxiv_id,
            doi=self.doi,
            url=url,
            code_url=self.code_url or None,
            has_code=self.has_code if self.has_code is not None else bool(self.code_url),
            abstract=abstract,
            sources=[SourceRef(file=file, line=line, format=FORMAT)],
        )


def _describe(error: ValidationError) -> str:
    """`field 'year': Input should be a valid integer`, every problem, '; '-separated."""
    problems = []
    for err in error.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"field {loc!r}: {msg}" if loc else msg)
    return "; ".join(problems)


class _RepeatedField(ValueError):
    """A JSON object names one field twice (json.loads would keep the last silently)."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _RepeatedField(key)
        obj[key] = value
    return obj


def iter_jsonl(lines: Iterable[str], file: str) -> Iterator[Paper | ParseIssue]:
    """JSON Lines, one record at a time; each bad line becomes a `file:line` issue."""
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            data: Any = json.loads(line, object_pairs_hook=_no_repeats)
        except json.JSONDecodeError as exc:
            yield issue(file, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except _RepeatedField as exc:
            yield issue(file, lineno, f"field {exc.args[0]!r} appears twice; record skipped")
            continue
        if not isinstance(data, dict):
            kind = type(data).__name__
            yield issue(file, lineno, f"expected a JSON object, got {kind}")
            continue
        try:
            record = JsonlPaper.model_validate(data)
        except ValidationError as exc:
            yield issue(file, lineno, _describe(exc))
            continue
        yield record.to_paper(file, lineno)


def looks_like_jsonl(head: list[str]) -> bool:
    """True when the first non-blank line starts a JSON object."""
    first = next((line.strip() for line in head if line.strip()), "")
    return first.startswith("{")
