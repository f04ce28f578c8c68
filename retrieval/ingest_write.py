"""The ingest's write step: stream the merged papers in batches (chunk, embed, write what
changed to the store, add to the new segment of the search state), then the store's revision
and the revision's state file, journaling how far it got.

Memory is bounded by a batch: papers arrive as an iterable (`PaperDelta.upserts`), and what
the previous revision holds is looked up by paper id, never listed whole. An unchanged paper
(same content hash and chunking) costs one lookup.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.chunking import chunk_paper
from retrieval.manifest import Journal, Manifest, ManifestFile
from retrieval.models import Chunk, Paper
from retrieval.segment import ChunkRow
from retrieval.state import OldChunk, SearchState, cache_base, revision_file
from retrieval.state_write import StateWriter, lexical_text, paper_hash, paper_row

if TYPE_CHECKING:
    from retrieval.config import RetrievalConfig
    from retrieval.ingest_report import IngestReport
    from retrieval.store import ChunkStore

# progress(done, total): chunks written so far out of those planned so far.
Progress = Callable[[int, int], None]
JOURNAL_EVERY_S = 0.5  # at most this often, the journal records how far the writes got
BATCH_CHUNKS = 256  # chunks planned together (looked up, then embedded and written)
STORE_BATCH = 64  # chunks embedded and written at once (the journal notes each)


@dataclass
class PaperDelta:
    """What an ingest changes: `upserts` (streamed, in ingest order) are new or possibly
    changed papers, `removed` paper ids to drop; `replace_all` says the upserts are the whole
    collection (everything else goes)."""

    upserts: Iterable[Paper]
    removed: Collection[str] = field(default_factory=tuple)
    replace_all: bool = False


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_metadata(
    paper: Paper, chunk: Chunk, chunk_hash: str, *, record: bool = False, seq: int | None = None
) -> dict[str, Any]:
    """The Chroma metadata of one chunk. With `record` (a shared server, whose other clients
    need it) chunk 0 carries the whole paper record; `seq` is the write's sequence number."""
    meta: dict[str, Any] = {
        "paper_id": paper.paper_id,
        "chunk_index": chunk.index,
        "hash": chunk_hash,
        "title": paper.title,
    }
    if paper.year is not None:
        meta["year"] = paper.year
    if record and chunk.index == 0:
        meta["paper"] = paper.model_dump_json()
    if seq is not None:
        meta["seq"] = seq
    return meta


class _Batch:
    def __init__(self) -> None:
        self.papers: list[tuple[Paper, str]] = []
        self.n_chunks = 0


class _Write:
    """One streamed write (see `write_papers`)."""

    def __init__(
        self,
        config: RetrievalConfig,
        store: ChunkStore,
        report: IngestReport,
        journal: JournalWriter,
        progress: Progress | None,
        previous: SearchState | None,
        listed: str | None,
        trusted: bool,
    ) -> None:
        self.config, self.store, self.report, self.journal = config, store, report, journal
        self.progress = progress
        self.prev = previous or SearchState.empty()
        self.writer = StateWriter(cache_base(config), previous)
        self.trusted = trusted
        self.seen = [np.zeros(s.n_papers, dtype=bool) for s in self.prev.segments]
        self.ids_written: set[str] | None = None if trusted else set()
        self.planned = 0
        self.written = 0
        self.deleted = 0
        self.server = bool(config.chroma_url)
        self.seq = int(store.info().get("seq", 0)) + 1 if self.server else None

    def phash(self, paper: Paper) -> str:
        return paper_hash(paper, self.config.chunk_tokens, self.config.chunk_overlap)

    def flush(self, batch: _Batch) -> None:
        if not batch.papers:
            return
        ids = [p.paper_id for p, _ in batch.papers]
        old = self.prev.paper_rows(ids, "phash, json")
        for i, pos, *_rest in old.values():
            self.seen[i][pos] = True
        fresh: list[tuple[Paper, str]] = []
        moved: list[tuple[Paper, str]] = []  # same content, record changed (e.g. sources)
        for paper, phash in batch.papers:
            row = old.get(paper.paper_id)
            if row is None:
                self.report.added += self.trusted  # else: the store says (`_classify`)
                fresh.append((paper, phash))
            elif row[2] != phash:
                self.report.updated += 1
                fresh.append((paper, phash))
            elif row[3] != paper.model_dump_json():
                moved.append((paper, phash))
        touched = [p.paper_id for p, _ in fresh + moved if p.paper_id in old]
        old_chunks = self.prev.chunks_of(touched, text=True) if touched else []
        self._write_fresh(fresh, old_chunks)
        if moved:
            self._carry(moved, old_chunks)
        self.writer.tombstone(old_chunks, [(old[pid][0], old[pid][1]) for pid in touched])

    def _write_fresh(self, fresh: list[tuple[Paper, str]], old_chunks: list[OldChunk]) -> None:
        if not fresh:
            return
        cfg = self.config
        rows: list[tuple[Paper, Chunk, str]] = []
        for paper, _ in fresh:
            paper_hash = paper.content_hash()
            for chunk in chunk_paper(paper, cfg.chunk_tokens, cfg.chunk_overlap):
                rows.append((paper, chunk, _sha(f"{paper_hash}\n{chunk.text}".encode())[:16]))
        new_ids = {c.chunk_id for _, c, _ in rows}
        fresh_ids = {p.paper_id for p, _ in fresh}
        by_id = {c.chunk_id: c for c in old_chunks if c.paper_id in fresh_ids}
        vectors: dict[str, Any] = {}
        if self.trusted:
            existing = {cid: c.hash for cid, c in by_id.items()}
        else:  # an interrupted ingest may have written some: ask the store, by id
            found = self.store.existing([c.chunk_id for _, c, _ in rows])
            existing = {cid: h for cid, (h, _) in found.items()}
            vectors = {cid: v for cid, (h, v) in found.items() if v is not None}
        to_write = [(p, c, h) for p, c, h in rows if existing.get(c.chunk_id) != h]
        keep = [(p, c, h) for p, c, h in rows if existing.get(c.chunk_id) == h]
        if not self.trusted:
            self._classify(rows, existing, {c.chunk_id for _, c, _ in to_write})
        to_delete = [cid for cid in by_id if cid not in new_ids]
        self.planned += len(to_write)
        self.journal.plan(self.planned)
        if to_delete:
            self.store.delete(to_delete)
            self.deleted += len(to_delete)
            self.journal.deleted(self.deleted)
        if keep and self.trusted:
            got = self._old_vectors([by_id[c.chunk_id] for _, c, _ in keep])
            vectors.update(zip([c.chunk_id for _, c, _ in keep], got, strict=True))
        for start in range(0, len(to_write), STORE_BATCH):
            part = to_write[start : start + STORE_BATCH]
            docs = [c.text for _, c, _ in part]
            computed = self.store.embed_documents(docs)
            metas = [chunk_metadata(p, c, h, record=self.server, seq=self.seq) for p, c, h in part]
            self.store.write([c.chunk_id for _, c, _ in part], docs, computed, metas)
            vectors.update(zip([c.chunk_id for _, c, _ in part], computed, strict=True))
            self.written += len(part)
            self.journal.wrote(self.written)
            if self.progress:
                self.progress(self.written, self.planned)
        if self.ids_written is not None:
            self.ids_written.update(new_ids)
        self.writer.add(
            [paper_row(p, phash) for p, phash in fresh],
            [ChunkRow(c.chunk_id, p.paper_id, c.index, h, c.text, lexical_text(p, c.text))
             for p, c, h in rows],
            np.asarray([vectors[c.chunk_id] for _, c, _ in rows], dtype=np.float32),
        )  # fmt: skip

    def _classify(
        self, rows: list[tuple[Paper, Chunk, str]], existing: dict[str, str], writes: set[str]
    ) -> None:
        """Added or updated, told by the store (no trusted previous state)."""
        found: dict[str, bool] = {}
        changed: dict[str, bool] = {}
        for p, c, _ in rows:
            found[p.paper_id] = found.get(p.paper_id, False) or c.chunk_id in existing
            changed[p.paper_id] = changed.get(p.paper_id, False) or c.chunk_id in writes
        for pid, was in found.items():
            if not was:
                self.report.added += 1
            elif changed[pid]:
                self.report.updated += 1

    def _old_vectors(self, chunks: list[OldChunk]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for c in chunks:
            out.append(self.prev.segments[c.segment].vectors_at([c.pos])[0])
        return out

    def _carry(self, moved: list[tuple[Paper, str]], old_chunks: list[OldChunk]) -> None:
        """Papers whose record changed but not their content: move them with their chunks
        (and vectors) to the new segment; nothing is written to the store."""
        ids = {p.paper_id for p, _ in moved}
        papers = {p.paper_id: p for p, _ in moved}
        chunks = [c for c in old_chunks if c.paper_id in ids]
        self.writer.add(
            [paper_row(p, phash) for p, phash in moved],
            [ChunkRow(c.chunk_id, c.paper_id, c.chunk_index, c.hash, c.text,
                      lexical_text(papers[c.paper_id], c.text)) for c in chunks],
            np.asarray(self._old_vectors(chunks), dtype=np.float32).reshape(len(chunks), -1),
        )  # fmt: skip

    def remove(self, removed: Collection[str], replace_all: bool, upserted: set[str]) -> None:
        gone: list[tuple[int, int, str]] = []
        if replace_all:
            gone = [(i, pos, pid) for i, pos, pid in self.prev.live_paper_ids()
                    if not self.seen[i][pos]]  # fmt: skip
        elif removed:
            wanted = [pid for pid in removed if pid not in upserted]
            rows = self.prev.paper_rows(wanted, "1")
            gone = [(r[0], r[1], pid) for pid, r in rows.items()]
        self.report.removed = len(gone)
        if not gone:
            return
        old_chunks = self.prev.chunks_of([pid for _, _, pid in gone])
        if old_chunks:
            self.store.delete([c.chunk_id for c in old_chunks])
            self.deleted += len(old_chunks)
            self.journal.deleted(self.deleted)
        self.writer.tombstone(old_chunks, [(i, pos) for i, pos, _ in gone])

    def leftovers(self) -> None:
        """Without a trusted previous state, delete store chunks the new state lacks."""
        if self.ids_written is None:
            return
        extra = [cid for cid in self.store.all_ids() if cid not in self.ids_written]
        if extra:
            self.store.delete(extra)
            self.deleted += len(extra)
            self.journal.deleted(self.deleted)


def write_papers(
    config: RetrievalConfig,
    store: ChunkStore,
    papers: PaperDelta | Iterable[Paper],
    report: IngestReport,
    journal: JournalWriter,
    *,
    progress: Progress | None = None,
    fresh: bool,
    listed: str | None = None,
) -> None:
    """Write `papers` (a `PaperDelta`; a plain iterable means the whole collection).

    `listed` is the complete revision the store agrees with (its state says what the store
    holds); without it, and unless the store is `fresh` (empty), the store is asked by id.
    """
    delta = papers if isinstance(papers, PaperDelta) else PaperDelta(papers, (), True)
    base = cache_base(config)
    previous = SearchState.open(base, listed) if listed else None
    if previous is None and listed and not fresh:
        # The state is missing (or from before segmented states): read it back once.
        from retrieval.state_sync import state_from_store

        read = state_from_store(store, config, listed)
        previous = SearchState.open(base, listed) if revision_file(base, listed).is_file() else None
        read.close()
    if previous is None and not fresh and not delta.replace_all:
        from retrieval.store import damaged_error

        raise damaged_error(config, "the search state of the last revision is missing")
    run = _Write(config, store, report, journal, progress, previous, listed if previous else None,
                 trusted=previous is not None or fresh)  # fmt: skip
    journal.start()
    if progress:
        progress(0, 0)
    upserted: set[str] = set()
    batch = _Batch()
    try:
        for paper in delta.upserts:
            report.papers += 1
            upserted.add(paper.paper_id)
            batch.papers.append((paper, run.phash(paper)))
            batch.n_chunks += 1 + len(paper.abstract) // 600
            if batch.n_chunks >= BATCH_CHUNKS:
                run.flush(batch)
                batch = _Batch()
        run.flush(batch)
        run.remove(delta.removed, delta.replace_all, upserted)
        run.leftovers()
    except BaseException:
        run.writer.abort()
        raise
    report.chunks_written = run.written
    report.chunks_deleted = run.deleted

    revision = run.writer.revision
    saved = revision_file(base, revision).is_file()  # not when `listed` was a legacy revision
    state = (
        run.writer.finish() if (run.writer.changed or previous is None or not saved) else previous
    )
    info = store.info()
    if (
        run.written
        or run.deleted
        or info.get("revision") != revision
        or info.get("chunks") != state.n_chunks
    ):
        store.set_revision(revision, chunks=state.n_chunks, papers=state.n_papers, seq=run.seq)
    if run.server:
        from retrieval.state_sync import write_sync

        write_sync(cache_base(config), revision, int(run.seq or 0))
    # A partial delta names only what changed: the counts are those of the new revision.
    report.papers = state.n_papers
    report.unchanged = report.papers - report.added - report.updated
    m = journal.manifest
    m.revision, m.papers, m.chunks = revision, state.n_papers, state.n_chunks
    if state is not previous:
        state.close()


class JournalWriter:
    """The in-progress manifest: records how far the writes got, at most every 0.5 s."""

    def __init__(self, mf: ManifestFile, manifest: Manifest) -> None:
        self.mf = mf
        self.manifest = manifest
        self._last = 0.0

    @property
    def _entry(self) -> Journal:
        assert self.manifest.ingest is not None
        return self.manifest.ingest

    def start(self, to_write: int = 0, to_delete: int = 0) -> None:
        self._entry.to_write = to_write
        self._entry.deleted = 0
        self._save(force=True)

    def plan(self, to_write: int) -> None:
        """The chunks to write planned so far (streamed: grows batch by batch)."""
        self._entry.to_write = to_write

    def deleted(self, n: int) -> None:
        self._entry.deleted = n
        self._save(force=True)

    def wrote(self, done: int) -> None:
        self._entry.written = done
        self._save(force=False)

    def _save(self, *, force: bool) -> None:
        now = time.monotonic()
        if force or now - self._last >= JOURNAL_EVERY_S:
            self.mf.write(self.manifest)
            self._last = now
