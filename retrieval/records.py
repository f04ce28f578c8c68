"""Record queries over the search state's paper table: filters, author names and title
references answered by scanning only the columns they need (SQLite), parsing only the
records returned, so a list question over a million papers does not read a million records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable

    from retrieval.state import SearchState


_LINES = "(char(10) || authors || char(10))"  # the author column, one whole name per line
_GROUP = 100  # names tried in one scan of the column


@dataclass(frozen=True)
class RecordFilter:
    """Record filters; `author` is a whole name (any case), never a part of one."""

    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None
    has_code: bool | None = None
    category: str | None = None


class PaperTitle(NamedTuple):
    """The fields a paper reference is resolved by."""

    paper_id: str
    arxiv_id: str | None
    title: str
    title_is_display: bool


def _where(f: RecordFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if f.year_from is not None:
        clauses.append("year IS NOT NULL AND year >= ?")
        args.append(f.year_from)
    if f.year_to is not None:
        clauses.append("year IS NOT NULL AND year <= ?")
        args.append(f.year_to)
    if f.author is not None:
        clauses.append(f"instr({_LINES}, ?) > 0")  # a whole name (checked again below)
        args.append(f"\n{f.author.strip().lower()}\n")
    if f.has_code is not None:
        clauses.append("coalesce(json_extract(json, '$.has_code'), 0) = ?")
        args.append(int(f.has_code))
    if f.category is not None:
        clauses.append("upper(coalesce(json_extract(json, '$.category'), '')) = ?")
        args.append(f.category.upper())
    return " AND ".join(clauses) or "1", args


def _has_author(authors: str, name: str) -> bool:
    return any(a.strip() == name for a in authors.split("\n"))


def select_ids(state: SearchState, f: RecordFilter) -> list[str]:
    """Ids of every live paper meeting `f`, oldest first (ties by date, then paper id)."""
    where, args = _where(f)
    rows = state.paper_columns("paper_id, year, json_extract(json, '$.date'), authors", where, args)
    if f.author is not None:
        name = f.author.strip().lower()
        rows = [r for r in rows if _has_author(r[3], name)]
    rows.sort(key=lambda r: (r[1] or 0, r[2] or "", r[0]))
    return [r[0] for r in rows]


def author_names(state: SearchState, candidates: Iterable[str]) -> dict[str, str]:
    """Which `candidates` are some live paper's author (a whole name, any case): each found
    candidate (lower case) -> the name as the first record listing it writes it."""
    wanted = sorted({c.strip().lower() for c in candidates if c.strip()})
    found: set[str] = set()
    for start in range(0, len(wanted), _GROUP):
        group = wanted[start : start + _GROUP]
        # a name of several words is rarely part of another: the plain column is scanned
        # for it (cheaper), one word is matched as a whole line (else "li" pulls in "li wei")
        where = " OR ".join(
            "instr(authors, ?) > 0" if " " in w else f"instr({_LINES}, ?) > 0" for w in group
        )
        args = [w if " " in w else f"\n{w}\n" for w in group]
        for (authors,) in state.paper_columns("authors", where, args):
            found.update(a.strip() for a in authors.split("\n"))
    out: dict[str, str] = {}
    for name in (w for w in wanted if w in found):
        rows = state.paper_columns("json", f"instr({_LINES}, ?) > 0", [f"\n{name}\n"], limit=1)
        written = _written(rows[0][0], name) if rows else None
        out[name] = written or name
    return out


def _written(json_text: str, name: str) -> str | None:
    import json

    authors = json.loads(json_text).get("authors") or []
    return next((a.strip() for a in authors if a.strip().lower() == name), None)


def titles(state: SearchState) -> list[PaperTitle]:
    """Id, arXiv id and title of every live paper, in ingest order (no record parsed)."""
    cols = (
        "paper_id, json_extract(json, '$.arxiv_id'), json_extract(json, '$.title'), "
        "coalesce(json_extract(json, '$.title_is_display'), 0)"
    )
    return [PaperTitle(r[0], r[1], r[2] or "", bool(r[3])) for r in state.paper_columns(cols)]
