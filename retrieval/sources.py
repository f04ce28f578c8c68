"""The source-record store: every parsed record, its merge keys and the merged papers.

One SQLite file per collection next to the manifest (`sources-<collection>.sqlite3`). It holds
what a full merge needs, so an ingest re-parses only new or changed files and re-merges only
the groups they touch (retrieval.regroup):

- `files`: each ingested file's order, size, mtime and content hash;
- `records`: each parsed record (JSON) with its file, order (`ord`, `seq`: the file's order,
  the record's position in it) and the merge group (`grp`) it belongs to;
- `keys` / `bands`: the record's exact merge keys and LSH bands (retrieval.merge_keys);
- `papers`: the merged papers of each group, in order of their first record;
- `groups`: each group's merges and conflicts (JSON), for the ingest report.

All changes of one ingest are one transaction, committed only after the papers are written
to the index: an interrupted ingest leaves the store as it was, and the next ingest redoes
the work (docs/formats.md, "Incremental ingest").
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from retrieval.config import RetrievalConfig
from retrieval.merge import abstract_words, title_key
from retrieval.merge_keys import band_keys, record_keys
from retrieval.models import Paper

SCHEMA_VERSION = 1
BATCH = 500  # records per insert batch: bounded memory while a big file is parsed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files(
    path TEXT PRIMARY KEY, ord INTEGER NOT NULL, size INTEGER, mtime_ns INTEGER, sha TEXT);
CREATE TABLE IF NOT EXISTS records(
    rid INTEGER PRIMARY KEY, path TEXT NOT NULL, ord INTEGER NOT NULL, seq INTEGER NOT NULL,
    grp INTEGER, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_path ON records(path);
CREATE INDEX IF NOT EXISTS records_grp ON records(grp);
CREATE INDEX IF NOT EXISTS records_order ON records(ord, seq);
CREATE TABLE IF NOT EXISTS keys(key TEXT NOT NULL, rid INTEGER NOT NULL,
    PRIMARY KEY(key, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_rid ON keys(rid);
CREATE TABLE IF NOT EXISTS bands(key INTEGER NOT NULL, rid INTEGER NOT NULL,
    PRIMARY KEY(key, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bands_rid ON bands(rid);
CREATE TABLE IF NOT EXISTS papers(
    paper_id TEXT PRIMARY KEY, grp INTEGER NOT NULL, ord INTEGER NOT NULL, seq INTEGER NOT NULL,
    paper TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS papers_grp ON papers(grp);
CREATE INDEX IF NOT EXISTS papers_order ON papers(ord, seq);
CREATE TABLE IF NOT EXISTS groups(grp INTEGER PRIMARY KEY, merges TEXT, conflicts TEXT);
CREATE TEMP TABLE IF NOT EXISTS dirty(rid INTEGER PRIMARY KEY);
"""


class FileState(BaseModel):
    """What the store knows of one ingested file."""

    path: str
    ord: int
    size: int | None
    mtime_ns: int | None
    sha: str | None


def sources_path(config: RetrievalConfig) -> Path:
    """Where a collection's source-record store lives (next to its manifest)."""
    return config.home / f"sources-{config.collection}.sqlite3"


def file_sha(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class SourceStore:
    """The store of one collection; use `begin()` ... `commit()` around an ingest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            db = self._open()
        except sqlite3.DatabaseError:
            # A damaged store is only a cache of the source files: start a new one.
            for leftover in (self.path, Path(f"{self.path}-journal"), Path(f"{self.path}-wal")):
                leftover.unlink(missing_ok=True)
            db = self._open()
        return db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA cache_size=-16000")  # 16 MB page cache: memory stays bounded
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            db.close()
            raise sqlite3.DatabaseError(f"source store version {version}")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return db

    def close(self) -> None:
        self.db.close()

    # ----- transaction -----

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def clear(self) -> None:
        """Forget everything (a rebuild, or a collection given as papers)."""
        for table in ("files", "records", "keys", "bands", "papers", "groups", "dirty"):
            self.db.execute(f"DELETE FROM {table}")

    # ----- files -----

    def files(self) -> dict[str, FileState]:
        rows = self.db.execute("SELECT path, ord, size, mtime_ns, sha FROM files ORDER BY ord")
        return {
            r[0]: FileState(path=r[0], ord=r[1], size=r[2], mtime_ns=r[3], sha=r[4]) for r in rows
        }

    def next_ord(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(ord), -1) + 1 FROM files").fetchone()[0])

    def set_file(self, state: FileState) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files(path, ord, size, mtime_ns, sha) VALUES (?, ?, ?, ?, ?)",
            (state.path, state.ord, state.size, state.mtime_ns, state.sha),
        )

    def record_count(self, path: str) -> int:
        return int(
            self.db.execute("SELECT count(*) FROM records WHERE path=?", (path,)).fetchone()[0]
        )

    # ----- records -----

    def drop_file_records(self, path: str) -> set[int]:
        """Remove a file's records and their keys; returns the groups they were in."""
        groups = {
            g for (g,) in self.db.execute("SELECT DISTINCT grp FROM records WHERE path=?", (path,))
        }
        sub = "SELECT rid FROM records WHERE path=?"
        self.db.execute(f"DELETE FROM keys WHERE rid IN ({sub})", (path,))
        self.db.execute(f"DELETE FROM bands WHERE rid IN ({sub})", (path,))
        self.db.execute("DELETE FROM records WHERE path=?", (path,))
        groups.discard(None)
        return groups

    def add_records(self, path: str, ord_: int, papers: Iterable[Paper]) -> int:
        """Insert a file's records (streamed, BATCH at a time) as dirty (no group yet)."""
        count = 0
        batch: list[Paper] = []
        for paper in papers:
            batch.append(paper)
            if len(batch) >= BATCH:
                self._insert(path, ord_, count, batch)
                count += len(batch)
                batch = []
        if batch:
            self._insert(path, ord_, count, batch)
            count += len(batch)
        return count

    def _insert(self, path: str, ord_: int, start: int, papers: list[Paper]) -> None:
        keys: list[tuple[str, int]] = []
        bands: list[tuple[int, int]] = []
        for seq, paper in enumerate(papers, start):
            cur = self.db.execute(
                "INSERT INTO records(path, ord, seq, grp, record) VALUES (?, ?, ?, NULL, ?)",
                (path, ord_, seq, paper.model_dump_json()),
            )
            rid = int(cur.lastrowid or 0)
            self.db.execute("INSERT INTO dirty(rid) VALUES (?)", (rid,))
            tkey = None if paper.title_is_display else title_key(paper.title)
            keys.extend((k, rid) for k in dict.fromkeys(record_keys(paper, tkey)))
            bands.extend((b, rid) for b in dict.fromkeys(band_keys(abstract_words(paper.abstract))))
        self.db.executemany("INSERT OR IGNORE INTO keys(key, rid) VALUES (?, ?)", keys)
        self.db.executemany("INSERT OR IGNORE INTO bands(key, rid) VALUES (?, ?)", bands)

    def record(self, rid: int) -> Paper:
        row = self.db.execute("SELECT record FROM records WHERE rid=?", (rid,)).fetchone()
        return Paper.model_validate_json(row[0])

    def records_in_order(self) -> Iterator[Paper]:
        """Every stored record, in merge order (files in order, records in file order)."""
        for (blob,) in self.db.execute("SELECT record FROM records ORDER BY ord, seq"):
            yield Paper.model_validate_json(blob)

    # ----- papers -----

    def papers(self) -> Iterator[Paper]:
        """Every merged paper, in order of its first record; streamed from SQLite."""
        for (blob,) in self.db.execute("SELECT paper FROM papers ORDER BY ord, seq"):
            yield Paper.model_validate_json(blob)

    def paper_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM papers").fetchone()[0])
