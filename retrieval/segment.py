"""One immutable segment of the search state: a folder with its papers, chunks and BM25
vocabulary in SQLite, and memory-mapped numpy arrays for BM25 postings, document lengths and
chunk vectors.

Written once by `SegmentWriter` (batch by batch, into a temp folder renamed into place) and
never changed: deletions are tombstones kept by the revision (`retrieval.state`). Readers
open it lazily: SQLite is queried by id or position and the arrays are mapped, never read
whole. Segments above `IVF_MIN` chunks store their vectors grouped by a coarse quantizer
(k-means centroids trained on a sample), so dense search probes a few lists (`retrieval.dense`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.dense import (
    Scan,
    build_ivf,
    exact_top,
    ivf_lists,
    ivf_scan,
    split_lists,
    split_rows,
)
from retrieval.lexical import postings

DB = "segment.sqlite3"
META = "meta.json"
IVF_MIN = 200_000  # exact dense search below this many chunks (a few ms per 100k)
_MAX_VARS = 900
SCHEMA = """
CREATE TABLE papers (pos INTEGER PRIMARY KEY, paper_id TEXT NOT NULL UNIQUE, year INTEGER,
                     authors TEXT NOT NULL, json TEXT NOT NULL, okey TEXT NOT NULL,
                     oline INTEGER NOT NULL, phash TEXT NOT NULL);
CREATE TABLE chunks (pos INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,
                     paper_id TEXT NOT NULL, chunk_index INTEGER NOT NULL, hash TEXT NOT NULL,
                     text TEXT NOT NULL);
CREATE TABLE terms (term TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
"""
INDEXES = "CREATE INDEX chunks_paper ON chunks(paper_id);"


@dataclass(frozen=True)
class PaperRow:
    """A paper as a segment stores it: `okey`/`oline` order the listing (first source)."""

    paper_id: str
    year: int | None
    authors: str  # lower-cased, one per line, for the author filter
    json: str
    okey: str
    oline: int
    phash: str  # content hash + chunking settings: equal means nothing to re-index


@dataclass(frozen=True)
class ChunkRow:
    """A chunk as a segment stores it, with the text BM25 indexes (`lexical`)."""

    chunk_id: str
    paper_id: str
    chunk_index: int
    hash: str
    text: str
    lexical: str


def chunked(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """`items` in slices below SQLite's bound-parameter limit."""
    for start in range(0, len(items), _MAX_VARS):
        yield items[start : start + _MAX_VARS]


class SegmentWriter:
    """Builds one segment batch by batch; `finish` writes the arrays and moves it in place."""

    def __init__(self, base: Path, name: str, dim: int) -> None:
        self.directory = base / name
        self.tmp = base / f"{name}.{os.getpid()}.tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.dim = dim
        self.conn = sqlite3.connect(self.tmp / DB)
        self.conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        self._vectors = open(self.tmp / "vectors.raw", "wb")  # noqa: SIM115 - closed in finish
        self.n_chunks = 0
        self.n_papers = 0
        self._terms: dict[str, int] = {}
        self._coo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._lengths: list[np.ndarray] = []

    def add(self, papers: Sequence[PaperRow], chunks: Sequence[ChunkRow], vectors: Any) -> None:
        """Append papers, their chunks and the chunks' vectors (rows in chunk order)."""
        vecs = np.asarray(vectors, dtype=np.float32).reshape(len(chunks), self.dim)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = (vecs / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        with self.conn:
            self.conn.executemany(
                "INSERT INTO papers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (self.n_papers + i, p.paper_id, p.year, p.authors, p.json, p.okey,
                     p.oline, p.phash)
                    for i, p in enumerate(papers)
                ),
            )  # fmt: skip
            self.conn.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (self.n_chunks + i, c.chunk_id, c.paper_id, c.chunk_index, c.hash, c.text)
                    for i, c in enumerate(chunks)
                ),
            )
        terms, indptr, docs, tfs, lengths = postings([c.lexical for c in chunks])
        ids = np.fromiter(
            (self._terms.setdefault(t, len(self._terms)) for t in terms), np.int64, len(terms)
        )
        # int32 halves what a big segment holds until `finish` (ids and positions fit).
        term_of = np.repeat(ids.astype(np.int32), np.diff(indptr))
        self._coo.append((term_of, docs.astype(np.int32) + np.int32(self.n_chunks), tfs))
        self._lengths.append(lengths)
        self._vectors.write(np.ascontiguousarray(vecs).tobytes())
        self.n_papers += len(papers)
        self.n_chunks += len(chunks)

    def finish(self) -> Segment:
        """Write postings (term-major), vectors (grouped by list when large), rename in place."""
        self._vectors.close()
        if self._coo:
            coo, self._coo = self._coo, []
            term_of = np.concatenate([c[0] for c in coo])
            docs = np.concatenate([c[1] for c in coo])
            tfs = np.concatenate([c[2] for c in coo])
            del coo  # the batches' arrays go before the sort makes its copies
            order = np.lexsort((docs, term_of))
            term_of, docs, tfs = term_of[order], docs[order], tfs[order]
            del order
        else:
            term_of = docs = np.zeros(0, np.int32)
            tfs = np.zeros(0, np.float32)
        indptr = np.zeros(len(self._terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_of, minlength=len(self._terms)), out=indptr[1:])
        del term_of
        np.save(self.tmp / "post_indptr.npy", indptr)
        np.save(self.tmp / "post_docs.npy", docs.astype(np.int32))
        np.save(self.tmp / "post_tfs.npy", tfs.astype(np.float32))
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int32)
        np.save(self.tmp / "doclen.npy", lengths.astype(np.int32))
        with self.conn:
            self.conn.executemany("INSERT INTO terms VALUES (?, ?)", self._terms.items())
            self.conn.executescript(INDEXES)
        self.conn.close()
        raw = self.tmp / "vectors.raw"
        ivf = self.n_chunks >= IVF_MIN
        if ivf:
            build_ivf(raw, self.n_chunks, self.dim, self.tmp)
            raw.unlink()
        else:
            raw.rename(self.tmp / "vectors.f32")
        meta = {"chunks": self.n_chunks, "papers": self.n_papers, "dim": self.dim, "ivf": ivf}
        (self.tmp / META).write_text(json.dumps(meta))
        shutil.rmtree(self.directory, ignore_errors=True)
        self.tmp.rename(self.directory)
        opened = Segment.open(self.directory)
        if opened is None:
            raise OSError(f"cannot reopen the segment just written to {self.directory}")
        return opened

    def abort(self) -> None:
        """Drop the unfinished segment."""
        self._vectors.close()
        self.conn.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Segment:
    """A finished segment, opened lazily (thread-safe)."""

    def __init__(self, directory: Path, conn: sqlite3.Connection, meta: dict[str, Any]) -> None:
        self.directory = directory
        self.name = directory.name
        self._conn = conn
        self._lock = threading.Lock()
        self.n_chunks = int(meta["chunks"])
        self.n_papers = int(meta["papers"])
        self.dim = int(meta["dim"])
        self.ivf = bool(meta["ivf"])
        self._arrays: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, directory: Path) -> Segment | None:
        """The segment in `directory`, or None when it is missing or unreadable."""
        try:
            meta = json.loads((directory / META).read_text())
            if not (directory / DB).is_file():
                return None
            conn = sqlite3.connect(
                f"file:{directory / DB}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            seg = cls(directory, conn, meta)
            # Mapped now, not at first use: a writer may prune the folder of an old revision
            # while this reader serves it (open files and maps stay valid on POSIX).
            names = ["post_indptr", "post_docs", "post_tfs", "doclen", "vectors"]
            for name in names + (["ivf_centroids", "ivf_indptr", "ivf_rows", "ivf_where"]
                                 if seg.ivf else []):  # fmt: skip
                seg.array(name)
            return seg
        except (OSError, ValueError, KeyError, sqlite3.Error):
            return None

    def array(self, name: str) -> np.ndarray:
        """A memory-mapped array of the segment (mapped on first use)."""
        got = self._arrays.get(name)
        if got is None:
            if name == "vectors":
                shape = (self.n_chunks, self.dim)
                path = self.directory / "vectors.f32"
                got = (
                    np.memmap(path, dtype=np.float32, mode="r", shape=shape)
                    if self.n_chunks
                    else np.zeros(shape, np.float32)
                )
            else:
                got = np.load(self.directory / f"{name}.npy", mmap_mode="r")
            self._arrays[name] = got
        return got

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def query_in(self, sql: str, values: Sequence[Any]) -> list[Any]:
        """`sql` with one `IN ({})` filled for `values`, in slices."""
        out: list[Any] = []
        with self._lock:
            for part in chunked(list(values)):
                marks = ",".join("?" * len(part))
                out.extend(self._conn.execute(sql.format(marks), part).fetchall())
        return out

    def term_ids(self, terms: Iterable[str]) -> dict[str, int]:
        return dict(self.query_in("SELECT term, id FROM terms WHERE term IN ({})", list(terms)))

    def dense_scans(
        self, query: np.ndarray, n: int, excluded: np.ndarray | None, parts: int = 1
    ) -> list[Scan]:
        """Dense search of this segment in up to `parts` scans of about equal cost, each
        giving (scores, positions) of its `n` nearest chunks not `excluded` (cosine)."""
        if self.ivf:
            lists = ivf_lists(self.array, query)
            sizes = np.diff(np.asarray(self.array("ivf_indptr")))
            return [
                Scan(int(sizes[g].sum()), partial(ivf_scan, self.array, query, g, n, excluded))
                for g in split_lists(lists, sizes, parts)
            ]
        vectors = np.asarray(self.array("vectors"))
        return [
            Scan(b - a, partial(exact_top, vectors, query, n, excluded, (a, b)))
            for a, b in split_rows(self.n_chunks, parts)
        ]

    def vectors_at(self, positions: Sequence[int]) -> np.ndarray:
        """Vectors of chunks at these positions."""
        if not self.ivf:
            return np.asarray(self.array("vectors")[np.asarray(positions, dtype=np.int64)])
        where = self.array("ivf_where")  # position -> row in list order
        return np.asarray(self.array("vectors")[where[np.asarray(positions, dtype=np.int64)]])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        self._arrays.clear()
