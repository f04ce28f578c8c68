"""Writing a revision's search state incrementally: one new segment for what changed,
tombstones for what it replaces, a tiered merge of small segments, then the revision file.

Merge policy: segments fall in tiers by the order of magnitude of their live chunks; when a
tier holds `FANOUT` segments they are merged into one (live rows only). A small delta thus
never rewrites a big segment, and the number of segments stays logarithmic in the size.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from retrieval.models import Paper
from retrieval.segment import ChunkRow, PaperRow, Segment, SegmentWriter
from retrieval.state import (
    MOD,
    OldChunk,
    SearchState,
    chunk_digest,
    revision_file,
    revision_hex,
    segments_dir,
)

FANOUT = 4
SEGMENT_MAX = 500_000  # chunks per written segment (bounds the writer's memory)
MERGE_BATCH = 4096


def lexical_text(paper: Paper | None, chunk_text: str) -> str:
    """Chunk text plus the paper's authors and year, so "papers by X in 2024" match."""
    if paper is None:
        return chunk_text
    extra = " ".join(paper.authors)
    year = str(paper.year) if paper.year else ""
    arxiv = paper.arxiv_id or ""
    return f"{chunk_text}\n{extra} {year} {arxiv}"


def paper_hash(paper: Paper, chunk_tokens: int, chunk_overlap: int) -> str:
    """Content hash plus chunking settings: equal means the paper's chunks are unchanged."""
    return hashlib.sha256(
        f"{paper.content_hash()}\n{chunk_tokens}/{chunk_overlap}".encode()
    ).hexdigest()[:16]


def paper_row(paper: Paper, phash: str, json_text: str | None = None) -> PaperRow:
    first = paper.sources[0] if paper.sources else None
    return PaperRow(
        paper_id=paper.paper_id,
        year=paper.year,
        authors="\n".join(a.lower() for a in paper.authors),
        json=json_text or paper.model_dump_json(),
        okey=first.file if first else "~",
        oline=first.line if first else 0,
        phash=phash,
    )


def _segment_name() -> str:
    return f"{time.time_ns():x}-{os.getpid()}"


class StateWriter:
    """Builds the next revision's state from the previous one (None: from nothing)."""

    def __init__(self, base: Path, previous: SearchState | None) -> None:
        self.base = base
        self.prev = previous or SearchState.empty()
        self.digest = self.prev.digest
        self.dead = [m.copy() for m in self.prev.dead]
        self.dead_papers = [set(d) for d in self.prev.dead_papers]
        self._writer: SegmentWriter | None = None
        self.new_segments: list[Segment] = []
        self.changed = False

    def tombstone(self, chunks: Iterable[OldChunk], papers: Iterable[tuple[int, int]]) -> None:
        """Delete old chunks and old paper rows (segment index, pos) from the next state."""
        for c in chunks:
            if not self.dead[c.segment][c.pos]:
                self.dead[c.segment][c.pos] = True
                self.digest -= chunk_digest(c.chunk_id, c.hash)
                self.changed = True
        for i, pos in papers:
            self.dead_papers[i].add(int(pos))
            self.changed = True

    def add(
        self, papers: Sequence[PaperRow], chunks: Sequence[ChunkRow], vectors: np.ndarray
    ) -> None:
        """Add papers with their chunks (and the chunks' vectors) to the new segment."""
        if not papers and not chunks:
            return
        if self._writer is None:
            dim = int(vectors.shape[1]) if len(chunks) else 384
            segs = segments_dir(self.base)
            segs.mkdir(parents=True, exist_ok=True)
            self._writer = SegmentWriter(segs, _segment_name(), dim)
        self._writer.add(papers, chunks, vectors)
        self.digest += sum(chunk_digest(c.chunk_id, c.hash) for c in chunks)
        self.changed = True
        if self._writer.n_chunks >= SEGMENT_MAX:
            self.new_segments.append(self._writer.finish())
            self._writer = None

    @property
    def revision(self) -> str:
        return revision_hex(self.digest % MOD)

    def finish(self, name: str | None = None) -> SearchState:
        """Write the new segment, merge small tiers, save the revision file (named `name`,
        default the revision); the state."""
        if self._writer is not None:
            self.new_segments.append(self._writer.finish())
            self._writer = None
        segments = list(self.prev.segments) + self.new_segments
        dead = self.dead + [np.zeros(s.n_chunks, dtype=bool) for s in self.new_segments]
        dead_papers = self.dead_papers + [set() for _ in self.new_segments]
        state = SearchState(
            segments, [np.flatnonzero(d) for d in dead], dead_papers, digest=self.digest % MOD
        )
        state = _compact(self.base, state)
        path = revision_file(self.base, name or self.revision)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"revision": name or self.revision, **state.spec()}))
        os.replace(tmp, path)
        return state

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None


def _compact(base: Path, state: SearchState) -> SearchState:
    """Drop empty segments and merge full tiers (see the module docstring)."""
    keep: list[int] = []
    for i, seg in enumerate(state.segments):
        live = seg.n_chunks - int(state.dead[i].sum())
        live_papers = seg.n_papers - len(state.dead_papers[i])
        if live or live_papers:
            keep.append(i)
    tiers: dict[int, list[int]] = {}
    for i in keep:
        live = state.segments[i].n_chunks - int(state.dead[i].sum())
        tiers.setdefault(int(math.log10(max(live, 1))), []).append(i)
    merge = next((ids for _, ids in sorted(tiers.items()) if len(ids) >= FANOUT), None)
    if merge is None and len(keep) == len(state.segments):
        return state
    segments = [state.segments[i] for i in keep if not merge or i not in merge]
    dead = [np.flatnonzero(state.dead[i]) for i in keep if not merge or i not in merge]
    dead_papers = [state.dead_papers[i] for i in keep if not merge or i not in merge]
    if merge:
        segments.append(_merge(base, state, merge))
        dead.append(np.zeros(0, np.int64))
        dead_papers.append(set())
    return _compact(base, SearchState(segments, dead, dead_papers, digest=state.digest))


def _merge(base: Path, state: SearchState, which: list[int]) -> Segment:
    """One segment holding the live rows of segments `which` (vectors copied, BM25 rebuilt)."""
    writer: SegmentWriter | None = None
    for i in which:
        seg = state.segments[i]
        dead_papers = state.dead_papers[i]
        papers: dict[str, tuple[PaperRow, Paper]] = {}
        for row in seg.query(
            "SELECT pos, paper_id, year, authors, json, okey, oline, phash FROM papers ORDER BY pos"
        ):
            if row[0] in dead_papers:
                continue
            pr = PaperRow(row[1], row[2], row[3], row[4], row[5], row[6], row[7])
            papers[pr.paper_id] = (pr, Paper.model_validate_json(pr.json))
        if writer is None:
            writer = SegmentWriter(segments_dir(base), _segment_name(), seg.dim)
        writer.add([p for p, _ in papers.values()], [], np.zeros((0, seg.dim), np.float32))
        live = np.flatnonzero(~state.dead[i])
        for start in range(0, len(live), MERGE_BATCH):
            part = live[start : start + MERGE_BATCH].tolist()
            rows = seg.query_in(
                "SELECT pos, chunk_id, paper_id, chunk_index, hash, text FROM chunks "
                "WHERE pos IN ({}) ",
                part,
            )
            rows.sort()
            chunks = [
                ChunkRow(
                    cid, pid, idx, h, text, lexical_text(papers.get(pid, (None, None))[1], text)
                )
                for _, cid, pid, idx, h, text in rows
            ]
            writer.add([], chunks, seg.vectors_at([r[0] for r in rows]))
    assert writer is not None
    return writer.finish()
