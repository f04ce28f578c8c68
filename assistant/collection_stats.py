"""Collection-wide values for answers, kept per immutable segment of the search state.

The offline model weighs a question's words by their IDF over every paper (`term_weights`),
and a question's paper names resolve over every paper (`names`).
Both are sums over papers, and the search state is a list of immutable segments with
tombstones (`retrieval.state`). So each segment's document frequencies and name keys are
computed once, saved by segment name in one SQLite file under
`RA_HOME/cache/assistant/<collection>/`, and a revision's values are the sum over its
segments less the papers deleted from them. Adding 100 papers to 100,000 computes 100
papers' worth; a question reads only its own terms and names (indexed lookups), never a
whole table. `ra ingest` prepares new segments, so the first question does not wait.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.names import NameTable, paper_names
from assistant.text import clean_text, terms

if TYPE_CHECKING:
    from retrieval.index import PaperIndex
    from retrieval.models import Paper
    from retrieval.state import SegmentInfo

# Bump when `terms`, `paper_names` or what they read changes: saved values are then stale.
STATS_VERSION = 1
NOTICE_PAPERS = 20_000  # below this, preparing takes a few seconds at most: say nothing
_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, papers INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS df (segment TEXT NOT NULL, term TEXT NOT NULL, n INTEGER NOT NULL,
                               PRIMARY KEY (term, segment)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS names (key TEXT NOT NULL, kind INTEGER NOT NULL,
                                  segment TEXT NOT NULL, pos INTEGER NOT NULL,
                                  paper_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS names_key ON names(key, kind);
CREATE TABLE IF NOT EXISTS dead_sets (segment TEXT NOT NULL, dead TEXT NOT NULL,
                                      PRIMARY KEY (segment, dead)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_df (segment TEXT NOT NULL, dead TEXT NOT NULL,
                                    term TEXT NOT NULL, n INTEGER NOT NULL,
                                    PRIMARY KEY (term, segment, dead)) WITHOUT ROWID;
"""
_TABLES = ("segments", "df", "names", "dead_sets", "dead_df")


def term_weights(text: str, n: int, df: Callable[[str], int]) -> dict[str, float]:
    """Smoothed IDF, rounded, of each content term of `text` over `n` papers of which
    `df(term)` contain it; a term no paper has gets the highest value. IDF over the whole
    collection, not over the few sources a turn is given: retrieval picked those for the
    topic, so the topic's own words are in most of them and would weigh least there."""
    if n == 0:
        return {}
    return {t: round(math.log((n + 1) / (df(t) + 0.5)), 6) for t in sorted(set(terms(text)))}


def paper_terms(paper: Paper) -> set[str]:
    """The stemmed content terms a paper counts once for in document frequencies."""
    return set(terms(clean_text(f"{paper.title} {paper.abstract}")))


def _paper_keys(paper: Paper) -> list[tuple[int, str]]:
    return paper_names(clean_text(paper.title), clean_text(paper.abstract or ""))


def _dead_key(dead: frozenset[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(dead))).encode()).hexdigest()[:20]


class CollectionStats:
    """The values of one revision (a segment layout), over a stats file."""

    def __init__(
        self, conn: sqlite3.Connection, index: PaperIndex, layout: list[SegmentInfo]
    ) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._index = index
        self.layout = layout
        self._live = [seg.name for seg in layout]
        self._dead = {seg.name: seg.dead for seg in layout if seg.dead}
        self._dead_keys = {name: _dead_key(dead) for name, dead in self._dead.items()}
        self.n = 0

    # ----- preparing -----

    def _transaction(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """`work` in one write transaction, taken before it reads (so two processes
        preparing the same segment cannot both insert it)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                work(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _saved(self, sql: str, *args: str) -> bool:
        with self._lock:
            return self._conn.execute(sql, args).fetchone() is not None

    def prepare(self, notice: Callable[[str], None] | None = None, *, prune: bool = False) -> None:
        """Compute and save the segments (and deleted-paper sets) not saved yet; `notice`
        hears one line first when they hold many papers. `prune` (the writer, after an
        ingest) forgets the segments and deleted sets this revision no longer has."""
        with self._lock:
            have = {r[0] for r in self._conn.execute("SELECT name FROM segments")}
        todo = [seg for seg in self.layout if seg.name not in have]
        papers = sum(seg.papers for seg in todo)
        if notice is not None and papers >= NOTICE_PAPERS:
            notice(f"preparing the answer statistics of {papers:,} papers…")
        for seg in todo:
            self._save_segment(seg.name)
        for name, dead in self._dead.items():
            if not self._saved("SELECT 1 FROM dead_sets WHERE segment = ? AND dead = ?",
                               name, self._dead_keys[name]):  # fmt: skip
                self._save_dead(name, dead)
        if prune:
            self._transaction(self._prune)
        marks = ",".join("?" * len(self._live))
        sql = f"SELECT coalesce(sum(papers), 0) FROM segments WHERE name IN ({marks})"
        with self._lock:
            total = int(self._conn.execute(sql, self._live).fetchone()[0]) if self._live else 0
        self.n = total - sum(len(d) for d in self._dead.values())

    def _save_segment(self, name: str) -> None:
        df: Counter[str] = Counter()
        rows: list[tuple[str, int, str, int, str]] = []
        count = 0
        for pos, paper in self._index.segment_papers(name):
            count += 1
            df.update(paper_terms(paper))
            rows.extend((k, kind, name, pos, paper.paper_id) for kind, k in _paper_keys(paper))

        def insert(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM segments WHERE name = ?", (name,)).fetchone():
                return  # another process saved it meanwhile
            conn.executemany(
                "INSERT INTO df VALUES (?, ?, ?)", ((name, t, n) for t, n in df.items())
            )
            conn.executemany("INSERT INTO names VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("INSERT INTO segments VALUES (?, ?)", (name, count))

        self._transaction(insert)

    def _save_dead(self, name: str, dead: frozenset[int]) -> None:
        counts: Counter[str] = Counter()
        for _, paper in self._index.segment_papers(name, sorted(dead)):
            counts.update(paper_terms(paper))
        key = self._dead_keys[name]

        def insert(conn: sqlite3.Connection) -> None:
            sql = "SELECT 1 FROM dead_sets WHERE segment = ? AND dead = ?"
            if conn.execute(sql, (name, key)).fetchone():
                return
            conn.executemany(
                "INSERT INTO dead_df VALUES (?, ?, ?, ?)",
                ((name, key, t, n) for t, n in counts.items()),
            )
            conn.execute("INSERT INTO dead_sets VALUES (?, ?)", (name, key))

        self._transaction(insert)

    def _prune(self, conn: sqlite3.Connection) -> None:
        gone = {r[0] for r in conn.execute("SELECT name FROM segments")} - set(self._live)
        for name in sorted(gone):
            for table in _TABLES:
                column = "name" if table == "segments" else "segment"
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
        for name in self._live:
            key = self._dead_keys.get(name, "")
            for table in ("dead_sets", "dead_df"):
                conn.execute(f"DELETE FROM {table} WHERE segment = ? AND dead != ?", (name, key))

    # ----- term weights -----

    def df(self, term: str) -> int:
        """How many live papers contain `term`."""
        marks = ",".join("?" * len(self._live))
        sql = f"SELECT coalesce(sum(n), 0) FROM df WHERE term = ? AND segment IN ({marks})"
        with self._lock:
            total = int(self._conn.execute(sql, [term, *self._live]).fetchone()[0])
            for name, key in self._dead_keys.items():
                sql = "SELECT n FROM dead_df WHERE term = ? AND segment = ? AND dead = ?"
                row = self._conn.execute(sql, (term, name, key)).fetchone()
                total -= int(row[0]) if row else 0
        return total

    def weights(self, text: str) -> dict[str, float]:
        """IDF of each content term of `text` (`term_weights`)."""
        return term_weights(text, self.n, self.df)

    # ----- names -----

    def names(self) -> NameTable:
        """The collection's `NameTable`, looked up key by key."""
        return NameTable(_Names(self, 0), _Names(self, 1))

    def papers_named(self, k: str, kind: int) -> tuple[str, ...]:
        """Ids of the live papers going by name key `k` (0: title names, 1: introduced)."""
        live = set(self._live)
        sql = "SELECT segment, pos, paper_id FROM names WHERE key = ? AND kind = ?"
        with self._lock:
            rows = self._conn.execute(sql, (k, kind)).fetchall()
        ids = (
            pid
            for segment, pos, pid in sorted(rows, key=lambda r: (r[0], r[1]))
            if segment in live and pos not in self._dead.get(segment, ())
        )
        return tuple(dict.fromkeys(ids))


class _Names(Mapping[str, tuple[str, ...]]):
    """A name-key table read from the stats file on demand (only `get` is used)."""

    def __init__(self, stats: CollectionStats, kind: int) -> None:
        self._stats = stats
        self._kind = kind

    def __getitem__(self, k: str) -> tuple[str, ...]:
        ids = self._stats.papers_named(k, self._kind)
        if not ids:
            raise KeyError(k)
        return ids

    def __iter__(self) -> Iterator[str]:
        sql = "SELECT DISTINCT key FROM names WHERE kind = ?"
        with self._stats._lock:
            keys = [r[0] for r in self._stats._conn.execute(sql, (self._kind,))]
        return iter(k for k in keys if k in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def stats_path(folder: Path) -> Path:
    """The stats file of a collection's cache folder."""
    return folder / f"stats-v{STATS_VERSION}.sqlite3"


def _connect(path: Path | None) -> sqlite3.Connection:
    """The stats file (None: in memory), in autocommit mode with WAL where it can."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    target = str(path) if path is not None else ":memory:"
    conn = sqlite3.connect(target, timeout=60, isolation_level=None, check_same_thread=False)
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(_SCHEMA)
    return conn


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return type(exc) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text


def open_stats(
    index: PaperIndex,
    folder: Path,
    notice: Callable[[str], None] | None = None,
    *,
    prune: bool = False,
) -> CollectionStats:
    """The values of the index's served revision, computing what is not saved yet. A
    damaged file is started again; a busy, read-only or full one leaves this process
    with the values in memory (answers still work)."""
    with index.pinned():  # the layout and the records read are one revision
        layout = index.segment_layout()
        path = stats_path(folder)
        for attempt in range(2):
            try:
                stats = CollectionStats(_connect(path), index, layout)
                stats.prepare(notice, prune=prune)
                return stats
            except sqlite3.DatabaseError as exc:
                if attempt or not _damaged(exc):
                    break
                with contextlib.suppress(OSError):
                    path.unlink()
            except OSError:
                break
        stats = CollectionStats(_connect(None), index, layout)
        stats.prepare(notice)
        return stats
