"""Ingest: files -> parse -> merge -> chunks -> store, journaled in the manifest.

Runs under the writer lock (the caller, `PaperIndex`, holds it). The manifest is written
first with `complete=False` (the journal), then chunks are deleted and written, then the
store's revision and the search state of the new revision, and last the manifest with
`complete=True`. An interruption anywhere leaves a manifest that says so; the next ingest
re-plans from the source files and the store's actual content, so it finishes the work
and removes leftovers.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from retrieval.chunking import chunk_paper
from retrieval.config import RetrievalConfig
from retrieval.integrity import disagreement, store_facts
from retrieval.manifest import Journal, Manifest, ManifestFile, now_iso
from retrieval.merge import MergeConflict, MergeEvent
from retrieval.models import Chunk, Paper, ParseIssue
from retrieval.resources import seed_files
from retrieval.search import SearchState, prune_states, revision_of, state_dir
from retrieval.store import ChunkStore, StoreError, damaged_error

# progress(done, total): chunks written so far out of those to write.
Progress = Callable[[int, int], None]
Notice = Callable[[str], None]
JOURNAL_EVERY_S = 0.5  # at most this often, the journal records how far the writes got


class FileReport(BaseModel):
    """What one input file gave."""

    path: str
    records: int = 0
    issues: int = 0
    error: str | None = None


class IngestReport(BaseModel):
    """The outcome of an ingest: counts, per-file results and every problem found."""

    files: list[FileReport] = Field(default_factory=list)
    issues: list[ParseIssue] = Field(default_factory=list)
    # Every merge of records into one paper, with its reason, and every merge conflict.
    merges: list[MergeEvent] = Field(default_factory=list)
    conflicts: list[MergeConflict] = Field(default_factory=list)
    papers: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0
    nothing_changed: bool = False
    # True when this ingest finished an interrupted one.
    resumed: bool = False
    # Where a damaged store was moved by `--reindex` (kept, never deleted).
    moved_aside: str | None = None

    @property
    def skipped_records(self) -> int:
        """Records reported as malformed and left out."""
        return len(self.issues)

    @property
    def file_errors(self) -> list[str]:
        """Files that could not be read at all."""
        return [f"{f.path}: {f.error}" for f in self.files if f.error]

    @property
    def ok(self) -> bool:
        """True when every file and record was ingested."""
        return not self.issues and not self.file_errors


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


def signature(config: RetrievalConfig, store: ChunkStore) -> dict[str, Any]:
    """The settings an index was built with; a change means everything is rebuilt."""
    return {
        "embedding_model": store.model_id,
        "chunk_tokens": config.chunk_tokens,
        "chunk_overlap": config.chunk_overlap,
    }


class Ingestor:
    """One ingest run (the caller holds the writer lock)."""

    def __init__(
        self,
        config: RetrievalConfig,
        store: ChunkStore,
        manifest_file: ManifestFile,
        *,
        progress: Progress | None = None,
        notice: Notice | None = None,
        current_papers: Callable[[], list[Paper]] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.mf = manifest_file
        self.progress = progress
        self.notice = notice
        self.current_papers = current_papers or (lambda: [])
        self.started = time.perf_counter()

    # ----- entry points -----

    def run_files(self, paths: Sequence[Path] | None, *, reindex: bool) -> IngestReport:
        """Ingest `paths` (default: the files already ingested, else the seeds)."""
        from retrieval.merge import merge_records
        from retrieval.parsers import SourceFileError, iter_source_files, parse_file

        manifest = self.mf.read()
        report = IngestReport()
        if reindex:
            report.moved_aside = self._clear_store()
            known: dict[str, str] = {}
            if paths:
                given = iter_source_files(list(paths))
            elif manifest and manifest.files:
                given = [Path(name) for name in manifest.files]
            else:
                given = seed_files()
        else:
            problem = disagreement(self.config, store_facts(self.config, self.store), manifest)
            if problem:
                raise damaged_error(self.config, problem)
            known = dict(manifest.files) if manifest else {}
            report.resumed = manifest is not None and not manifest.complete
            if paths:
                given = iter_source_files(list(paths))
            else:
                # Finishing an interrupted ingest: its files are in the manifest already.
                given = [] if report.resumed and known else seed_files()
        ordered = list(known) + [str(p.resolve()) for p in given if str(p.resolve()) not in known]

        contents: dict[str, bytes | None] = {}
        for name in ordered:
            try:
                contents[name] = Path(name).read_bytes()
            except OSError:
                contents[name] = None
        hashes = {n: _sha(c) for n, c in contents.items() if c is not None}
        sig = signature(self.config, self.store)
        if (
            not reindex
            and manifest is not None
            and manifest.complete
            and manifest.revision
            and manifest.signature == sig
            and hashes == known
            and all(c is not None for c in contents.values())
        ):
            report.papers = manifest.papers
            report.unchanged = report.papers
            report.nothing_changed = True
            report.files = [FileReport(path=n, records=0) for n in ordered]
            return self._done(report)

        pending = {n: hashes.get(n) or known[n] for n in ordered if n in hashes or n in known}
        journal = self._begin(manifest, pending, sig)

        parsed: list[Paper] = []
        kept_files: dict[str, str] = {}
        old_by_file: dict[str, list[Paper]] | None = None
        for name in ordered:
            file_report = FileReport(path=self._display_path(name, given))
            report.files.append(file_report)
            try:
                result = parse_file(Path(name))
            except SourceFileError as exc:
                file_report.error = str(exc)
                if name in known:
                    # A file ingested before and now unreadable: keep its papers.
                    if old_by_file is None:
                        old_by_file = self._papers_by_source_file()
                    parsed.extend(old_by_file.get(name, []))
                    kept_files[name] = known[name]
                continue
            file_report.records = len(result.papers)
            file_report.issues = len(result.issues)
            report.issues.extend(result.issues)
            parsed.extend(result.papers)
            kept_files[name] = hashes[name]

        merged = merge_records(parsed)
        papers, report.merges, report.conflicts = merged.papers, merged.merges, merged.conflicts
        self._write(papers, report, journal, fresh=reindex)
        journal.manifest.files = kept_files
        self._finish(journal)
        return self._done(report)

    def run_papers(self, papers: Sequence[Paper]) -> IngestReport:
        """Store already-parsed records as they are (the collection holds only these)."""
        report = IngestReport()
        manifest = self.mf.read()
        journal = self._begin(manifest, {}, signature(self.config, self.store))
        self._write(list(papers), report, journal, fresh=False)
        self._finish(journal)
        return self._done(report)

    # ----- steps -----

    def _clear_store(self) -> str | None:
        """Empty the store for a rebuild; a damaged embedded store is moved aside, kept."""
        if not self.config.chroma_url:
            facts = store_facts(self.config, self.store)
            if facts.problem:
                return self._move_aside(facts.problem)
            try:
                self.store.reset()
            except StoreError as exc:
                if exc.kind != "store_damaged":
                    raise
                return self._move_aside(exc.message)
            return None
        self.store.reset()
        return None

    def _move_aside(self, why: str) -> str | None:
        moved = self.store.move_aside()
        if moved is not None and self.notice:
            self.notice(f"the damaged store ({why}) was moved to {moved}; rebuilding the index")
        return str(moved) if moved else None

    def _begin(
        self, manifest: Manifest | None, files: dict[str, str], sig: dict[str, Any]
    ) -> _Journal:
        base = manifest or Manifest()
        started = Manifest(
            files=files,
            signature=sig,
            revision=base.revision,
            papers=base.papers,
            chunks=base.chunks,
            complete=False,
            ingest=Journal(started_at=now_iso(), pid=os.getpid()),
        )
        self.mf.write(started)
        return _Journal(self.mf, started)

    def _write(
        self, papers: list[Paper], report: IngestReport, journal: _Journal, *, fresh: bool
    ) -> None:
        desired: dict[str, tuple[str, str, dict[str, Any]]] = {}
        rows: list[tuple[str, int, str, str]] = []
        for paper in papers:
            paper_hash = paper.content_hash()
            for chunk in chunk_paper(paper, self.config.chunk_tokens, self.config.chunk_overlap):
                chunk_hash = _sha(f"{paper_hash}\n{chunk.text}".encode())[:16]
                desired[chunk.chunk_id] = (
                    chunk_hash,
                    chunk.text,
                    chunk_metadata(paper, chunk, chunk_hash),
                )
                rows.append((paper.paper_id, chunk.index, chunk.chunk_id, chunk.text))

        existing: dict[str, tuple[str, str]] = {}
        if not fresh:
            existing = {
                cid: (str(meta.get("hash", "")), str(meta.get("paper_id", "")))
                for cid, _, meta in self.store.iter_chunks(include_documents=False)
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
        if self.progress:
            self.progress(0, len(to_write))
        if to_delete:
            self.store.delete(to_delete)
            journal.deleted(len(to_delete))
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            journal.wrote(done)
            if self.progress:
                self.progress(done, len(to_write))

        if to_write:
            self.store.upsert(
                to_write,
                [desired[c][1] for c in to_write],
                [desired[c][2] for c in to_write],
                progress=tick,
            )
        report.chunks_written = len(to_write)
        report.chunks_deleted = len(to_delete)

        revision = revision_of((cid, d[0]) for cid, d in desired.items())
        info = self.store.info()
        if (
            to_write
            or to_delete
            or info.get("revision") != revision
            or info.get("chunks") != len(desired)
        ):
            self.store.set_revision(revision, chunks=len(desired), papers=len(papers))
        directory = state_dir(self.config, revision)
        if SearchState.load(directory) is None:
            SearchState.from_rows(papers, rows).save(directory)
        m = journal.manifest
        m.revision, m.papers, m.chunks = revision, len(papers), len(desired)

    def _finish(self, journal: _Journal) -> None:
        m = journal.manifest
        m.complete = True
        if m.ingest is not None:
            m.ingest.finished_at = now_iso()
        self.mf.write(m)
        if m.revision:
            prune_states(self.config, keep=m.revision)

    def _done(self, report: IngestReport) -> IngestReport:
        report.seconds = time.perf_counter() - self.started
        return report

    @staticmethod
    def _display_path(resolved: str, given: Sequence[Path]) -> str:
        for p in given:
            if str(p.resolve()) == resolved:
                return str(p)
        return resolved

    def _papers_by_source_file(self) -> dict[str, list[Paper]]:
        by_file: dict[str, list[Paper]] = {}
        for paper in self.current_papers():
            for name in {str(Path(s.file).resolve()) for s in paper.sources}:
                by_file.setdefault(name, []).append(paper)
        return by_file


class _Journal:
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
