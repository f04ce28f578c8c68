"""The search state of one revision: live segments plus tombstones, opened lazily.

Layout under `RA_HOME/cache/<collection>/`: `segments/<name>/` holds immutable segments
(`retrieval.segment`), and `revisions/<revision>.json` (small) lists the segments a revision
serves with the chunk and paper positions deleted from each (tombstones). An ingest writes one
new segment for what changed and a new revision file (`retrieval.state_write`); nothing is
rebuilt at first search. Global chunk positions are segment offsets plus local positions.

BM25 uses global statistics over the live chunks (N, mean length, document frequencies), so
scores equal one bm25s index over the same documents whatever the segmentation.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from retrieval.bm25_top import Layout, QueryTerm, TermPart, top_positions
from retrieval.dense import Scan, run_split
from retrieval.lexical import idf, length_norms, tokenize
from retrieval.models import Paper
from retrieval.segment import Segment

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from retrieval.config import RetrievalConfig

# A segment this large is scanned in two halves when a second thread is offered.
SPLIT_MIN = 50_000
MOD = 2**128


class SegmentInfo(NamedTuple):
    """A segment of a revision: its name, how many papers it holds, which are deleted."""

    name: str
    papers: int
    dead: frozenset[int]


class OldChunk(NamedTuple):
    """A live chunk of a state, as the writer needs it."""

    segment: int
    pos: int
    chunk_id: str
    hash: str
    paper_id: str
    chunk_index: int
    text: str


def chunk_digest(chunk_id: str, chunk_hash: str) -> int:
    """One chunk's share of the revision digest."""
    return int(hashlib.sha256(f"{chunk_id} {chunk_hash}".encode()).hexdigest()[:32], 16)


def revision_hex(digest: int) -> str:
    return f"{digest % MOD:032x}"


def revision_of(pairs: Iterable[tuple[str, str]]) -> str:
    """The content revision of a set of (chunk id, chunk hash) pairs: the sum of per-chunk
    digests mod 2**128, so it is order-independent and updated by adding and subtracting."""
    return revision_hex(sum(chunk_digest(c, h) for c, h in pairs))


def legacy_revision(pairs: Iterable[tuple[str, str]]) -> str:
    """The revision as versions before the segmented state computed it (a sorted listing's
    hash): an index written by them keeps it until its next change."""
    listing = "\n".join(f"{cid} {h}" for cid, h in sorted(pairs))
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def cache_base(config: RetrievalConfig) -> Path:
    """Where the search states of the collection live (segments and revision files)."""
    return config.cache_dir / config.collection


def segments_dir(base: Path) -> Path:
    return base / "segments"


def revision_file(base: Path, revision: str) -> Path:
    return base / "revisions" / f"{revision}.json"


class SearchState:
    """What search needs, behind small queries (thread-safe; immutable once opened)."""

    def __init__(
        self,
        segments: Sequence[Segment],
        dead_chunks: Sequence[Iterable[int]] = (),
        dead_papers: Sequence[Iterable[int]] = (),
        *,
        keep: Any = None,
        digest: int = 0,
    ) -> None:
        self.segments = list(segments)
        self.digest = digest  # the revision digest (`revision_of`) of the live chunks
        self._keep = keep  # e.g. a temp directory that must live as long as the state
        self.offsets: list[int] = []
        self.dead: list[np.ndarray] = []
        self.dead_papers: list[set[int]] = []
        size = 0
        for i, seg in enumerate(self.segments):
            self.offsets.append(size)
            size += seg.n_chunks
            mask = np.zeros(seg.n_chunks, dtype=bool)
            if i < len(dead_chunks):
                mask[np.fromiter(dead_chunks[i], dtype=np.int64)] = True
            self.dead.append(mask)
            self.dead_papers.append(set(dead_papers[i]) if i < len(dead_papers) else set())
        self.size = size
        self.n_chunks = size - sum(int(m.sum()) for m in self.dead)
        self.n_papers = sum(s.n_papers for s in self.segments) - sum(
            len(d) for d in self.dead_papers
        )
        self._avgdl: float | None = None
        self._has_dead = [bool(m.any()) for m in self.dead]
        self._norm_cache: dict[tuple[int, type[np.floating]], np.ndarray] = {}
        self._lock = threading.Lock()

    # ----- opening -----

    @classmethod
    def open(cls, base: Path, revision: str) -> SearchState | None:
        """The state of `revision` saved under `base`, or None when missing or unreadable."""
        try:
            spec = json.loads(revision_file(base, revision).read_text())
            entries = spec["segments"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        segments: list[Segment] = []
        for entry in entries:
            seg = Segment.open(segments_dir(base) / entry["name"])
            if seg is None:
                for s in segments:
                    s.close()
                return None
            segments.append(seg)
        try:
            digest = int(spec.get("digest") or revision, 16)
        except ValueError:
            return None
        return cls(
            segments,
            [e.get("dead_chunks", []) for e in entries],
            [e.get("dead_papers", []) for e in entries],
            digest=digest,
        )

    @classmethod
    def empty(cls) -> SearchState:
        return cls([])

    def spec(self) -> dict[str, Any]:
        """The revision file's content for this state."""
        return {
            "digest": revision_hex(self.digest),
            "segments": [
                {
                    "name": seg.name,
                    "dead_chunks": np.flatnonzero(dead).tolist(),
                    "dead_papers": sorted(dp),
                }
                for seg, dead, dp in zip(self.segments, self.dead, self.dead_papers, strict=True)
            ],
        }

    # ----- papers -----

    def _live_papers(self, rows: Iterable[Any], i: int) -> Iterator[Any]:
        dead = self.dead_papers[i]
        return (r for r in rows if r[0] not in dead)

    def papers(self) -> list[Paper]:
        """Every live paper, in ingest order (first source file and line)."""
        return [Paper.model_validate_json(r[0]) for r in self.paper_columns("json")]

    def paper_columns(
        self, columns: str, where: str = "1", args: Sequence[Any] = (), limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """`columns` of the live papers meeting an SQL condition on the papers table, in
        ingest order (the first `limit`): a scan of those columns only, no record parsed."""
        streams = []
        for i, seg in enumerate(self.segments):
            sql = f"SELECT pos, okey, oline, {columns} FROM papers WHERE {where}"
            rows = seg.query(sql + " ORDER BY okey, oline, pos", args)
            live = self._live_papers(rows, i)
            streams.append([(r[1], r[2], i, r[0], r[3:]) for r in itertools.islice(live, limit)])
        return [r[4] for r in itertools.islice(heapq.merge(*streams), limit)]

    def layout(self) -> list[SegmentInfo]:
        """Each segment's name (its content never changes), size, and the positions of its
        papers deleted in this revision."""
        return [SegmentInfo(seg.name, seg.n_papers, frozenset(d))
                for seg, d in zip(self.segments, self.dead_papers, strict=True)]  # fmt: skip

    def segment_papers(
        self, name: str, positions: Sequence[int] | None = None, batch: int = 5000
    ) -> Iterator[tuple[int, Paper]]:
        """(position, paper) of the papers a segment holds, deleted ones included (all, or
        those at `positions`), read in batches."""
        seg = next(s for s in self.segments if s.name == name)
        if positions is not None:
            rows = seg.query_in("SELECT pos, json FROM papers WHERE pos IN ({})", list(positions))
            yield from ((int(r[0]), Paper.model_validate_json(r[1])) for r in rows)
            return
        for start in range(0, seg.n_papers, batch):
            sql = "SELECT pos, json FROM papers WHERE pos >= ? AND pos < ? ORDER BY pos"
            for pos, text in seg.query(sql, (start, start + batch)):
                yield int(pos), Paper.model_validate_json(text)

    def paper_rows(self, paper_ids: Sequence[str], columns: str) -> dict[str, tuple[Any, ...]]:
        """Live papers by id: (segment index, pos, *columns)."""
        found: dict[str, tuple[Any, ...]] = {}
        wanted = list(dict.fromkeys(paper_ids))
        for i, seg in enumerate(self.segments):
            sql = f"SELECT pos, paper_id, {columns} FROM papers WHERE paper_id IN ({{}})"
            for row in self._live_papers(seg.query_in(sql, wanted), i):
                found[row[1]] = (i, row[0], *row[2:])
        return found

    def papers_by_id(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """The live papers with these ids (those that exist)."""
        rows = self.paper_rows(paper_ids, "json")
        return {pid: Paper.model_validate_json(r[2]) for pid, r in rows.items()}

    # ----- chunks -----

    def chunks_at(self, positions: Sequence[int], text: bool = True) -> dict[int, tuple[str, str]]:
        """(paper id, text) of the chunks at these global positions (text "" if not `text`)."""
        wanted = np.asarray(positions, dtype=np.int64)
        segment_of = np.searchsorted(np.asarray(self.offsets), wanted, side="right") - 1
        out: dict[int, tuple[str, str]] = {}
        for i in sorted(set(segment_of.tolist())):  # np.unique would import numpy.ma (~14 ms)
            locals_ = (wanted[segment_of == i] - self.offsets[i]).tolist()
            column = "text" if text else "''"
            sql = f"SELECT pos, paper_id, {column} FROM chunks WHERE pos IN ({{}})"
            for pos, pid, body in self.segments[i].query_in(sql, locals_):
                out[self.offsets[i] + int(pos)] = (pid, body)
        return out

    def chunks_of(self, paper_ids: Sequence[str], text: bool = False) -> list[OldChunk]:
        """Live chunks of these papers (an indexed lookup by paper id), in chunk order."""
        out: list[OldChunk] = []
        cols = "pos, chunk_id, hash, paper_id, chunk_index" + (", text" if text else ", ''")
        for i, seg in enumerate(self.segments):
            sql = f"SELECT {cols} FROM chunks WHERE paper_id IN ({{}})"
            dead = self.dead[i]
            for pos, cid, h, pid, index, body in seg.query_in(sql, list(paper_ids)):
                if not dead[pos]:
                    out.append(OldChunk(i, int(pos), cid, h, pid, int(index), body))
        out.sort(key=lambda c: (c.paper_id, c.chunk_index))
        return out

    def listing(self) -> dict[str, tuple[str, str]]:
        """Every live chunk id with its (content hash, paper id)."""
        out: dict[str, tuple[str, str]] = {}
        for i, seg in enumerate(self.segments):
            dead = self.dead[i]
            for pos, cid, h, pid in seg.query("SELECT pos, chunk_id, hash, paper_id FROM chunks"):
                if not dead[pos]:
                    out[cid] = (h, pid)
        return out

    def live_paper_ids(self) -> Iterator[tuple[int, int, str]]:
        """(segment index, pos, paper id) of every live paper."""
        for i, seg in enumerate(self.segments):
            yield from ((i, r[0], r[1]) for r in self._live_papers(
                seg.query("SELECT pos, paper_id FROM papers"), i))  # fmt: skip

    # ----- filters -----

    def allowed(
        self, year_from: int | None, year_to: int | None, author: str | None
    ) -> tuple[set[str], np.ndarray] | None:
        """Live paper ids passing the filters and the matching chunk mask; None without."""
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
        mask = np.zeros(self.size, dtype=bool)
        ids: set[str] = set()
        for i, seg in enumerate(self.segments):
            rows = seg.query(f"SELECT p.pos, p.paper_id FROM papers p WHERE {where}", args)
            ids.update(r[1] for r in self._live_papers(rows, i))
            sql = (
                f"SELECT c.pos FROM chunks c JOIN papers p ON p.paper_id = c.paper_id WHERE {where}"
            )
            local = np.fromiter((r[0] for r in seg.query(sql, args)), dtype=np.int64)
            local = local[~self.dead[i][local]]
            mask[self.offsets[i] + local] = True
        return ids, mask

    # ----- lexical -----

    def _mean_length(self) -> float:
        with self._lock:
            if self._avgdl is None:
                total = sum(
                    float(np.asarray(seg.array("doclen"))[~dead].sum())
                    for seg, dead in zip(self.segments, self.dead, strict=True)
                )
                self._avgdl = total / max(self.n_chunks, 1)
            return self._avgdl

    def _norms(self, i: int, avgdl: float, dtype: type[np.floating] = np.float64) -> np.ndarray:
        """Segment `i`'s BM25 length norms (`lexical.length_norms`), computed once per state."""
        with self._lock:
            norm = self._norm_cache.get((i, dtype))
            if norm is None:
                norm = length_norms(self.segments[i].array("doclen"), avgdl).astype(dtype)
                self._norm_cache[(i, dtype)] = norm
            return norm

    def query_terms(self, query: str) -> list[QueryTerm]:
        """The query's terms found in the collection, each with its weight (query count x
        idf over the live chunks) and its postings per segment."""
        counts = Counter(tokenize([query])[0]) if self.n_chunks else Counter()
        parts: dict[str, list[TermPart]] = {}
        df: Counter[str] = Counter()
        for i, seg in enumerate(self.segments):
            ids = seg.term_ids(counts) if counts else {}
            if not ids:
                continue
            indptr, docs, tfs = (seg.array(n) for n in ("post_indptr", "post_docs", "post_tfs"))
            for term, tid in ids.items():
                start, end = int(indptr[tid]), int(indptr[tid + 1])
                part = TermPart(i, np.asarray(docs[start:end]), np.asarray(tfs[start:end]))
                dead = self.dead[i] if self._has_dead[i] else None
                df[term] += part.docs.size - (int(dead[part.docs].sum()) if dead is not None else 0)
                parts.setdefault(term, []).append(part)
        return [
            QueryTerm(t, counts[t] * float(np.float32(idf(df[t], self.n_chunks))), parts[t])
            for t in counts
            if df[t]
        ]

    def bm25_layout(self) -> Layout:
        """What BM25 scoring needs of this state (`retrieval.bm25_top.Layout`)."""
        avgdl = self._mean_length()
        return Layout(
            self.offsets,
            self.size,
            lambda i: self._norms(i, avgdl),
            lambda i: self._norms(i, avgdl, np.float32),
            [d if has else None for d, has in zip(self.dead, self._has_dead, strict=True)],
        )

    def lexical_top(self, query: str, n: int, mask: np.ndarray | None = None) -> list[int]:
        """Global positions of the `n` best BM25 chunks within `mask`, best first (ties by
        position): equal to sorting every chunk's BM25 score (`tests/reference_bm25.py`)."""
        terms = self.query_terms(query)
        return top_positions(terms, self.bm25_layout(), n, mask) if terms and n > 0 else []

    # ----- dense -----

    def dense(
        self,
        vector: np.ndarray,
        n: int,
        mask: np.ndarray | None,
        pool: Executor | None = None,
    ) -> list[int]:
        """Global positions of the `n` live chunks nearest to `vector`, within `mask`, ties
        by position. With a `pool`, the scans are split in two halves of about equal cost:
        one runs there while this thread runs the other (numpy releases the GIL)."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(query))
        query = query / norm if norm > 0 else query
        parts = 2 if pool is not None else 1
        scans: list[tuple[int, Scan]] = []
        for i, seg in enumerate(self.segments):
            excluded = self.dead[i]
            if mask is not None:
                excluded = excluded | ~mask[self.offsets[i] : self.offsets[i] + seg.n_chunks]
            if excluded.all():
                continue
            split = parts if seg.n_chunks >= SPLIT_MIN else 1
            for scan in seg.dense_scans(query, n, excluded if excluded.any() else None, split):
                scans.append((self.offsets[i], scan))
        return run_split(scans, n, pool)

    def close(self) -> None:
        """Release the segments (the object must not be used afterwards)."""
        for seg in self.segments:
            seg.close()
