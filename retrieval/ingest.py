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

from retrieval.config import RetrievalConfig
from retrieval.ingest_report import FileReport, IngestReport
from retrieval.ingest_write import JournalWriter, PaperDelta, Progress, write_papers
from retrieval.integrity import disagreement, store_facts
from retrieval.manifest import Journal, Manifest, ManifestFile, now_iso
from retrieval.models import Paper
from retrieval.resources import seed_files
from retrieval.search import prune_states
from retrieval.store import ChunkStore, StoreError, damaged_error

Notice = Callable[[str], None]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        # The store agrees with a complete manifest (checked above): its revision's saved
        # listing says what the store holds, without scanning the store.
        listed = manifest.revision if manifest and manifest.complete and not reindex else None
        self._write(papers, report, journal, fresh=reindex, listed=listed)
        journal.manifest.files = kept_files
        self._finish(journal)
        return self._done(report)

    def run_papers(self, papers: Sequence[Paper]) -> IngestReport:
        """Store already-parsed records as they are (the collection holds only these)."""
        report = IngestReport()
        manifest = self.mf.read()
        problem = disagreement(self.config, store_facts(self.config, self.store), manifest)
        listed = manifest.revision if manifest and manifest.complete and not problem else None
        journal = self._begin(manifest, {}, signature(self.config, self.store))
        self._write(list(papers), report, journal, fresh=False, listed=listed)
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
    ) -> JournalWriter:
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
        return JournalWriter(self.mf, started)

    def _write(
        self,
        papers: list[Paper],
        report: IngestReport,
        journal: JournalWriter,
        *,
        fresh: bool,
        listed: str | None = None,
    ) -> None:
        write_papers(
            self.config, self.store, PaperDelta(upserts=papers, removed=(), replace_all=True),
            report, journal,
            progress=self.progress, fresh=fresh, listed=listed,
        )  # fmt: skip

    def _finish(self, journal: JournalWriter) -> None:
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
