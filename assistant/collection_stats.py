"""Collection-wide values for answers, kept per immutable segment of the search state.

The offline model weighs a question's words by their IDF over every paper
(`collection_terms`), and a question's paper names resolve over every paper (`names`).
Both are sums over papers, and the search state is a list of immutable segments with
tombstones (`retrieval.state`). So each segment's document frequencies and name keys are
computed once, saved by segment name in one SQLite file under
`RA_HOME/cache/assistant/<collection>/`, and a revision's values are the sum over its
segments less the papers deleted from them. Adding 100 papers to 100,000 computes 100
papers' worth; a question reads only its own terms and names (indexed lookups), never a
whole table. `ra ingest` prepares new segments, so the first question does not wait.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.collection_terms import term_weights
from assistant.names import NameTable, paper_names
from assistant.text import clean_text, terms

if TYPE_CHECKING:
    from retrieval.index import PaperIndex
    from retrieval.models import Paper

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
"""


def paper_terms(paper: Paper) -> set[str]:
    """The stemmed content terms a paper counts once for in document frequencies."""
    return set(terms(clean_text(f"{paper.title} {paper.abstract}")))


def _paper_keys(paper: Paper) -> list[tuple[int, str]]:
    return paper_names(clean_text(paper.title), clean_text(paper.abstract or ""))


class CollectionStats:
    """The values of one revision (a segment layout), over a stats file."""

    def __init__(self, conn: sqlite3.Connection, index: PaperIndex) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._index = index
        self.layout = index.segment_layout()
        self._dead = {seg.name: seg.dead for seg in self.layout if seg.dead}
        self._dead_df: Counter[str] | None = None
        self.n = 0

    # ----- preparing -----

    def prepare(self, notice: Callable[[str], None] | None = None) -> None:
        """Compute and save the segments not saved yet (`notice` hears one line first when
        they hold many papers); forget the ones gone."""
        names = [seg.name for seg in self.layout]
        with self._lock:
            have = {r[0] for r in self._conn.execute("SELECT name FROM segments")}
        todo = [seg for seg in self.layout if seg.name not in have]
        papers = sum(seg.papers for seg in todo)
        if notice is not None and papers >= NOTICE_PAPERS:
            notice(f"preparing the answer statistics of {papers:,} papers…")
        for seg in todo:
            self._save_segment(seg.name)
        with self._lock, self._conn:
            gone = sorted(have - set(names))
            for name in gone:
                for table in ("segments", "df", "names"):
                    column = "name" if table == "segments" else "segment"
                    self._conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
            marks = ",".join("?" * len(names))
            sql = f"SELECT coalesce(sum(papers), 0) FROM segments WHERE name IN ({marks})"
            total = int(self._conn.execute(sql, names).fetchone()[0]) if names else 0
        self.n = total - sum(len(d) for d in self._dead.values())

    def _save_segment(self, name: str) -> None:
        df: Counter[str] = Counter()
        rows: list[tuple[str, int, str, int, str]] = []
        count = 0
        for pos, paper in self._index.segment_papers(name):
            count += 1
            df.update(paper_terms(paper))
            rows.extend((k, kind, name, pos, paper.paper_id) for kind, k in _paper_keys(paper))
        with self._lock, self._conn:
            if self._conn.execute("SELECT 1 FROM segments WHERE name = ?", (name,)).fetchone():
                return  # another process saved it meanwhile
            self._conn.executemany(
                "INSERT INTO df VALUES (?, ?, ?)", ((name, t, n) for t, n in df.items())
            )
            self._conn.executemany("INSERT INTO names VALUES (?, ?, ?, ?, ?)", rows)
            self._conn.execute("INSERT INTO segments VALUES (?, ?)", (name, count))

    # ----- term weights -----

    def _deleted_df(self) -> Counter[str]:
        """Document frequencies of the deleted papers still inside the segments."""
        if self._dead_df is None:
            counts: Counter[str] = Counter()
            for name, dead in self._dead.items():
                for _, paper in self._index.segment_papers(name, sorted(dead)):
                    counts.update(paper_terms(paper))
            self._dead_df = counts
        return self._dead_df

    def df(self, term: str) -> int:
        """How many live papers contain `term`."""
        names = [seg.name for seg in self.layout]
        marks = ",".join("?" * len(names))
        sql = f"SELECT coalesce(sum(n), 0) FROM df WHERE term = ? AND segment IN ({marks})"
        with self._lock:
            total = int(self._conn.execute(sql, [term, *names]).fetchone()[0])
        return total - (self._deleted_df()[term] if self._dead else 0)

    def weights(self, text: str) -> dict[str, float]:
        """IDF of each content term of `text` (`collection_terms.term_weights`)."""
        return term_weights(text, self.n, self.df)

    # ----- names -----

    def names(self) -> NameTable:
        """The collection's `NameTable`, looked up key by key."""
        return NameTable(_Names(self, 0), _Names(self, 1))

    def papers_named(self, k: str, kind: int) -> tuple[str, ...]:
        """Ids of the live papers going by name key `k` (0: title names, 1: introduced)."""
        live = {seg.name for seg in self.layout}
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


def _connect(path: Path, retry: bool = True) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
        conn.executescript(_SCHEMA)
        return conn
    except sqlite3.OperationalError:
        pass  # read-only or busy: the values live in memory instead (answers still work)
    except sqlite3.DatabaseError:
        if retry:  # not a database (damaged): start the file again
            path.unlink(missing_ok=True)
            return _connect(path, retry=False)
    except OSError:
        pass
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.executescript(_SCHEMA)
    return conn


def open_stats(
    index: PaperIndex, folder: Path, notice: Callable[[str], None] | None = None
) -> CollectionStats:
    """The values of the index's served revision, computing the segments not saved yet."""
    stats = CollectionStats(_connect(stats_path(folder)), index)
    try:
        stats.prepare(notice)
    except sqlite3.DatabaseError:  # a damaged file: start it again
        stats_path(folder).unlink(missing_ok=True)
        stats = CollectionStats(_connect(stats_path(folder)), index)
        stats.prepare(notice)
    return stats
