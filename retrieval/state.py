"""The search state of one revision: paper records and chunk rows in SQLite, BM25 on disk.

Written by the ingest that makes the revision (never rebuilt at first search), in a folder
`RA_HOME/cache/<collection>/<revision>/` renamed into place when complete. It opens lazily:
`records.sqlite3` is queried by id or position (each paper record stored once, as JSON,
fetched only when needed) and the BM25 index is memory-mapped, so a one-shot command does not
parse the whole library. A state read back from the store (an interrupted or foreign ingest)
lives in memory only.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from retrieval.lexical import LexicalIndex
from retrieval.models import Paper

DB_NAME = "records.sqlite3"
SCHEMA = """
CREATE TABLE papers (pos INTEGER PRIMARY KEY, paper_id TEXT NOT NULL UNIQUE, year INTEGER,
                     authors TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE chunks (pos INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,
                     paper_id TEXT NOT NULL, chunk_index INTEGER NOT NULL, hash TEXT NOT NULL,
                     text TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# One chunk row: (paper id, chunk index, chunk id, text, content hash).
Row = tuple[str, int, str, str, str]
_MAX_VARS = 900  # SQLite's bound-parameter limit is 999 on older builds


def _first_source_key(paper: Paper) -> tuple[str, int]:
    if not paper.sources:
        return ("~", 0)
    first = paper.sources[0]
    return (first.file, first.line)


def lexical_text(paper: Paper | None, chunk_text: str) -> str:
    """Chunk text plus the paper's authors and year, so "papers by X in 2024" match."""
    if paper is None:
        return chunk_text
    extra = " ".join(paper.authors)
    year = str(paper.year) if paper.year else ""
    arxiv = paper.arxiv_id or ""
    return f"{chunk_text}\n{extra} {year} {arxiv}"


def _chunked(items: Sequence[str] | Sequence[int]) -> Iterable[Sequence[str] | Sequence[int]]:
    for start in range(0, len(items), _MAX_VARS):
        yield items[start : start + _MAX_VARS]


class SearchState:
    """What search needs besides Chroma, behind small queries (thread-safe)."""

    def __init__(self, conn: sqlite3.Connection, lexical: LexicalIndex) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.lexical = lexical
        self.n_chunks = self._scalar("SELECT COUNT(*) FROM chunks")
        self.n_papers = self._scalar("SELECT COUNT(*) FROM papers")

    # ----- building -----

    @classmethod
    def create(
        cls, papers: Iterable[Paper], rows: Iterable[Row], directory: Path | None = None
    ) -> SearchState:
        """The state of `papers` and their chunk `rows`, saved to `directory` (atomically)
        or kept in memory. Papers are in ingest order (first source); chunks follow their
        paper, so the state is the same whether built during ingest or read from the store."""
        ordered = sorted(papers, key=_first_source_key)
        order = {p.paper_id: i for i, p in enumerate(ordered)}
        by_id = {p.paper_id: p for p in ordered}
        chunk_rows = sorted(rows, key=lambda r: (order.get(r[0], len(order)), r[1], r[2]))
        lexical = LexicalIndex.build([lexical_text(by_id.get(r[0]), r[3]) for r in chunk_rows])
        tmp: Path | None = None
        if directory is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
        else:
            tmp = directory.with_name(f"{directory.name}.{os.getpid()}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            conn = sqlite3.connect(tmp / DB_NAME, check_same_thread=False)
        with conn:
            conn.executescript(SCHEMA)
            conn.executemany(
                "INSERT INTO papers VALUES (?, ?, ?, ?, ?)",
                (
                    (i, p.paper_id, p.year, "\n".join(a.lower() for a in p.authors),
                     p.model_dump_json())
                    for i, p in enumerate(ordered)
                ),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                ((i, r[2], r[0], r[1], r[4], r[3]) for i, r in enumerate(chunk_rows)),
            )
            conn.execute(
                "INSERT INTO meta VALUES ('lexical_terms', ?)", (str(int(lexical.has_terms)),)
            )
        if directory is None or tmp is None:
            return cls(conn, lexical)
        conn.close()
        lexical.save(tmp / "bm25")
        shutil.rmtree(directory, ignore_errors=True)
        try:
            tmp.rename(directory)
        except OSError:  # another process saved the same revision first: same content
            shutil.rmtree(tmp, ignore_errors=True)
        opened = cls.open(directory)
        if opened is None:
            raise OSError(f"cannot reopen the search state just written to {directory}")
        return opened

    @classmethod
    def open(cls, directory: Path) -> SearchState | None:
        """The state saved in `directory`, or None when it is missing or unreadable."""
        db = directory / DB_NAME
        if not db.is_file():
            return None
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
            row = conn.execute("SELECT value FROM meta WHERE key = 'lexical_terms'").fetchone()
            n_chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            has_terms = bool(row) and row[0] == "1"
            if has_terms and not (directory / "bm25").is_dir():
                conn.close()
                return None
            lexical = LexicalIndex.load(directory / "bm25", int(n_chunks) if has_terms else 0)
            if not has_terms:
                lexical = LexicalIndex(None, int(n_chunks))
            return cls(conn, lexical)
        except (OSError, ValueError, KeyError, sqlite3.Error):
            return None

    # ----- queries -----

    def _scalar(self, sql: str) -> int:
        with self._lock:
            return int(self._conn.execute(sql).fetchone()[0])

    def papers(self) -> list[Paper]:
        """Every paper, in ingest order."""
        with self._lock:
            rows = self._conn.execute("SELECT json FROM papers ORDER BY pos").fetchall()
        return [Paper.model_validate_json(r[0]) for r in rows]

    def papers_by_id(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """The papers with these ids (those that exist)."""
        found: dict[str, Paper] = {}
        with self._lock:
            for part in _chunked(list(dict.fromkeys(paper_ids))):
                marks = ",".join("?" * len(part))
                for pid, blob in self._conn.execute(
                    f"SELECT paper_id, json FROM papers WHERE paper_id IN ({marks})", part
                ):
                    found[pid] = Paper.model_validate_json(blob)
        return found

    def positions(self, chunk_ids: Sequence[str]) -> dict[str, int]:
        """Positions of these chunk ids (those that exist)."""
        out: dict[str, int] = {}
        with self._lock:
            for part in _chunked(list(chunk_ids)):
                marks = ",".join("?" * len(part))
                out.update(
                    self._conn.execute(
                        f"SELECT chunk_id, pos FROM chunks WHERE chunk_id IN ({marks})", part
                    ).fetchall()
                )
        return out

    def chunks_at(self, positions: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(paper id, text) of the chunks at these positions."""
        out: dict[int, tuple[str, str]] = {}
        with self._lock:
            for part in _chunked(list(positions)):
                marks = ",".join("?" * len(part))
                for pos, pid, text in self._conn.execute(
                    f"SELECT pos, paper_id, text FROM chunks WHERE pos IN ({marks})", part
                ):
                    out[int(pos)] = (pid, text)
        return out

    def allowed(
        self, year_from: int | None, year_to: int | None, author: str | None
    ) -> tuple[set[str], np.ndarray] | None:
        """Paper ids passing the filters and the matching chunk mask; None without filters."""
        if year_from is None and year_to is None and not author:
            return None
        clauses: list[str] = []
        args: list[int | str] = []
        if year_from is not None:
            clauses.append("p.year IS NOT NULL AND p.year >= ?")
            args.append(year_from)
        if year_to is not None:
            clauses.append("p.year IS NOT NULL AND p.year <= ?")
            args.append(year_to)
        if author and author.strip():
            clauses.append("instr(p.authors, ?) > 0")
            args.append(author.lower().strip())
        where = " AND ".join(clauses) or "1"
        mask = np.zeros(self.n_chunks, dtype=bool)
        with self._lock:
            ids = {
                r[0]
                for r in self._conn.execute(f"SELECT paper_id FROM papers p WHERE {where}", args)
            }
            for (pos,) in self._conn.execute(
                "SELECT c.pos FROM chunks c JOIN papers p ON p.paper_id = c.paper_id "
                f"WHERE {where}",
                args,
            ):
                mask[pos] = True
        return ids, mask

    def listing(self) -> dict[str, tuple[str, str]]:
        """Every chunk id with its (content hash, paper id): what the store holds."""
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id, hash, paper_id FROM chunks").fetchall()
        return {cid: (h, pid) for cid, h, pid in rows}

    def chunk_ids(self) -> list[str]:
        """Every chunk id, in position order."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT chunk_id FROM chunks ORDER BY pos")]

    def close(self) -> None:
        """Release the database (the object must not be used afterwards)."""
        with self._lock:
            self._conn.close()


def rows_from_store(chunks: Iterable[tuple[str, str, dict]]) -> tuple[list[Paper], list[Row]]:
    """Papers and chunk rows from the store's (id, document, metadata) triples."""
    papers: list[Paper] = []
    rows: list[Row] = []
    for cid, doc, meta in chunks:
        if "paper" in meta:
            papers.append(Paper.model_validate_json(str(meta["paper"])))
        rows.append(
            (str(meta.get("paper_id", "")), int(meta.get("chunk_index", 0)), cid, doc,
             str(meta.get("hash", "")))
        )  # fmt: skip
    return papers, rows
