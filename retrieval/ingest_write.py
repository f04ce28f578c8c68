"""The ingest's write step: chunk the merged papers, write what changed to the store, then the
store's revision and the search state of the new revision, journaling how far it got."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from retrieval.chunking import chunk_paper
from retrieval.manifest import Journal, Manifest, ManifestFile
from retrieval.models import Chunk, Paper
from retrieval.search import revision_of, state_dir
from retrieval.state import Row, SearchState

if TYPE_CHECKING:
    from retrieval.config import RetrievalConfig
    from retrieval.ingest_report import IngestReport
    from retrieval.store import ChunkStore

# progress(done, total): chunks written so far out of those to write.
Progress = Callable[[int, int], None]
JOURNAL_EVERY_S = 0.5  # at most this often, the journal records how far the writes got


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_metadata(paper: Paper, chunk: Chunk, chunk_hash: str) -> dict[str, Any]:
    """The Chroma metadata of one chunk (chunk 0 carries the whole paper record)."""
    meta: dict[str, Any] = {
        "paper_id": paper.paper_id,
        "chunk_index": chunk.index,
        "hash": chunk_hash,
        "title": paper.title,
    }
    if paper.year is not None:
        meta["year"] = paper.year
    if chunk.index == 0:
        meta["paper"] = paper.model_dump_json()
    return meta


def write_papers(
    config: RetrievalConfig,
    store: ChunkStore,
    papers: list[Paper],
    report: IngestReport,
    journal: JournalWriter,
    *,
    progress: Progress | None = None,
    fresh: bool,
    listed: str | None = None,
) -> None:
    desired: dict[str, tuple[str, str, dict[str, Any]]] = {}
    rows: list[Row] = []
    for paper in papers:
        paper_hash = paper.content_hash()
        for chunk in chunk_paper(paper, config.chunk_tokens, config.chunk_overlap):
            chunk_hash = _sha(f"{paper_hash}\n{chunk.text}".encode())[:16]
            desired[chunk.chunk_id] = (
                chunk_hash,
                chunk.text,
                chunk_metadata(paper, chunk, chunk_hash),
            )
            rows.append((paper.paper_id, chunk.index, chunk.chunk_id, chunk.text, chunk_hash))

    existing: dict[str, tuple[str, str]] = {}
    previous = SearchState.open(state_dir(config, listed)) if listed else None
    if previous is not None:
        existing = previous.listing()
        previous.close()
    elif not fresh:
        existing = {
            cid: (str(meta.get("hash", "")), str(meta.get("paper_id", "")))
            for cid, _, meta in store.iter_chunks(include_documents=False)
        }
    to_write = [cid for cid, (h, _, _) in desired.items() if existing.get(cid, ("",))[0] != h]
    to_delete = [cid for cid in existing if cid not in desired]

    old_papers = {pid for _, pid in existing.values()}
    new_ids = {p.paper_id for p in papers}
    changed = {desired[cid][2]["paper_id"] for cid in to_write}
    changed |= {existing[cid][1] for cid in to_delete if existing[cid][1] in new_ids}
    report.papers = len(papers)
    report.added = len(new_ids - old_papers)
    report.updated = len(changed & old_papers & new_ids)
    report.removed = len(old_papers - new_ids)
    report.unchanged = report.papers - report.added - report.updated

    journal.start(len(to_write), len(to_delete))
    if progress:
        progress(0, len(to_write))
    if to_delete:
        store.delete(to_delete)
        journal.deleted(len(to_delete))
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        journal.wrote(done)
        if progress:
            progress(done, len(to_write))

    if to_write:
        store.upsert(
            to_write,
            [desired[c][1] for c in to_write],
            [desired[c][2] for c in to_write],
            progress=tick,
        )
    report.chunks_written = len(to_write)
    report.chunks_deleted = len(to_delete)

    revision = revision_of((cid, d[0]) for cid, d in desired.items())
    info = store.info()
    if (
        to_write
        or to_delete
        or info.get("revision") != revision
        or info.get("chunks") != len(desired)
    ):
        store.set_revision(revision, chunks=len(desired), papers=len(papers))
    directory = state_dir(config, revision)
    existing_state = SearchState.open(directory)
    if existing_state is None:
        SearchState.create(papers, rows, directory).close()
    else:
        existing_state.close()
    m = journal.manifest
    m.revision, m.papers, m.chunks = revision, len(papers), len(desired)


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

    def start(self, to_write: int, to_delete: int) -> None:
        self._entry.to_write = to_write
        self._entry.deleted = 0
        self._save(force=True)

    def deleted(self, n: int) -> None:
        self._entry.deleted = n
        self._save(force=True)

    def wrote(self, done: int) -> None:
        self._entry.written = done
        self._save(force=done == self._entry.to_write)

    def _save(self, *, force: bool) -> None:
        now = time.monotonic()
        if force or now - self._last >= JOURNAL_EVERY_S:
            self.mf.write(self.manifest)
            self._last = now
