"""Ingest: files -> parse -> merge -> chunks -> store, journaled in the manifest.

Runs under the writer lock (the caller, `PaperIndex`, holds it). The manifest is written
first with `complete=False` (the journal), then chunks are deleted and written, then the
store's revision and the search state of the new revision, and last the manifest with
`complete=True`. An interruption anywhere leaves a manifest that says so; the next ingest
re-plans from the source files and the store's actual content, so it finishes the work
and removes leftovers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from retrieval.config import RetrievalConfig
from retrieval.ingest_report import FileReport, IngestReport
from retrieval.ingest_write import JournalWriter, PaperDelta, Progress, write_papers
from retrieval.integrity import disagreement, store_facts
from retrieval.manifest import Journal, Manifest, ManifestFile, now_iso
from retrieval.models import Paper, ParseIssue
from retrieval.regroup import dirty_papers, regroup
from retrieval.resources import seed_files
from retrieval.search import prune_states
from retrieval.sources import FileState, SourceStore, file_sha, sources_path
from retrieval.store import ChunkStore, StoreError, damaged_error

Notice = Callable[[str], None]


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
        src = SourceStore(sources_path(self.config))
        try:
            src.begin()
            return self._run_files(src, paths, reindex=reindex)
        finally:
            src.rollback()  # nothing to undo after a commit: an interruption undoes it all
            src.close()

    def _run_files(
        self, src: SourceStore, paths: Sequence[Path] | None, *, reindex: bool
    ) -> IngestReport:
        from retrieval.parsers import iter_source_files

        manifest = self.mf.read()
        report = IngestReport()
        src.db.execute("DELETE FROM dirty")
        if reindex:
            report.moved_aside = self._clear_store()
            src.clear()
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
        stored = src.files()
        # A store that does not know this index (new, lost or from an older version) cannot
        # say which papers went away: the write step then replaces everything.
        fresh_store = not stored and bool(known or (manifest and manifest.papers))
        touched: set[int] = set()
        for name in [n for n in stored if n not in known]:
            touched |= src.drop_file_records(name)
            src.db.execute("DELETE FROM files WHERE path=?", (name,))
            del stored[name]
        resolved = [str(p.resolve()) for p in given]
        ordered = list(stored) + [n for n in known if n not in stored]
        ordered += [n for n in dict.fromkeys(resolved) if n not in stored and n not in known]

        plan = self._plan(src, ordered, stored, known, given, report)
        sig = signature(self.config, self.store)
        todo = [name for name, state in plan.items() if state is not None]
        if (
            not reindex
            and not todo
            and not touched
            and not report.file_errors
            and manifest is not None
            and manifest.complete
            and manifest.revision
            and manifest.signature == sig
        ):
            src.commit()  # new mtimes of files whose content is unchanged
            report.papers = manifest.papers
            report.unchanged = report.papers
            report.nothing_changed = True
            report.files = [FileReport(path=f.path, records=0) for f in report.files]
            return self._done(report)

        final = {name: state.sha or "" for name, state in src.files().items()}
        final.update({name: state.sha or "" for name, state in plan.items() if state})
        journal = self._begin(manifest, final, sig)
        for name in todo:
            state = plan[name]
            assert state is not None
            touched |= self._parse_into(src, state, report)
        regrouped = regroup(src, touched)
        report.merges, report.conflicts = regrouped.merges, regrouped.conflicts
        replace_all = (
            reindex or report.resumed or fresh_store or manifest is None
            or manifest.signature != sig
        )  # fmt: skip
        delta = PaperDelta(
            upserts=src.papers() if replace_all else dirty_papers(src),
            removed=regrouped.removed,
            replace_all=replace_all,
        )
        # The store agrees with a complete manifest (checked above): its revision's saved
        # listing says what the store holds, without scanning the store.
        listed = manifest.revision if manifest and manifest.complete and not reindex else None
        write_papers(
            self.config, self.store, delta, report, journal,
            progress=self.progress, fresh=reindex, listed=listed,
        )  # fmt: skip
        # Only now may the store say these files are ingested: their papers are written.
        src.commit()
        journal.manifest.files = {name: state.sha or "" for name, state in src.files().items()}
        self._finish(journal)
        return self._done(report)

    def _plan(
        self,
        src: SourceStore,
        ordered: list[str],
        stored: dict[str, FileState],
        known: dict[str, str],
        given: Sequence[Path],
        report: IngestReport,
    ) -> dict[str, FileState | None]:
        """Each file's new state when it must be parsed, None when unchanged or unreadable.

        An unchanged file costs a stat (same size and mtime as stored) or, when those
        differ, a hash. An unreadable file ingested before keeps its records.
        """
        from retrieval.parsers import SourceFileError, iter_parse

        plan: dict[str, FileState | None] = {}
        next_ord = src.next_ord()
        for name in ordered:
            file_report = FileReport(path=self._display_path(name, given))
            report.files.append(file_report)
            old = stored.get(name)
            plan[name] = None
            try:
                st = os.stat(name)
                same_stat = old is not None and (old.size, old.mtime_ns) == (
                    st.st_size,
                    st.st_mtime_ns,
                )
                if same_stat and old is not None and old.sha == known.get(name, old.sha):
                    file_report.records = src.record_count(name)
                    continue
                sha = file_sha(Path(name))
            except OSError:
                sha = None
            if old is not None and sha is not None and sha == old.sha:
                src.set_file(
                    old.model_copy(update={"size": st.st_size, "mtime_ns": st.st_mtime_ns})
                )
                file_report.records = src.record_count(name)
                continue
            try:
                iter_parse(Path(name))  # checks the file and its format, reads no record
            except SourceFileError as exc:
                file_report.error = str(exc)
                if name in known and old is None:
                    self._keep_old_papers(src, name, known[name], next_ord)
                    next_ord += 1
                continue
            if old is not None:
                ord_ = old.ord
            else:
                ord_, next_ord = next_ord, next_ord + 1
            plan[name] = FileState(
                path=name, ord=ord_, size=st.st_size, mtime_ns=st.st_mtime_ns, sha=sha
            )
        return plan

    def _parse_into(self, src: SourceStore, state: FileState, report: IngestReport) -> set[int]:
        """Replace a file's stored records by its parsed ones (streamed); the touched groups."""
        from retrieval.parsers import SourceFileError, iter_parse

        file_report = next(f for f in report.files if Path(f.path).resolve() == Path(state.path))
        touched = src.drop_file_records(state.path)
        issues: list[ParseIssue] = []

        def papers() -> Iterator[Paper]:
            for record in iter_parse(Path(state.path)):
                if isinstance(record, Paper):
                    yield record
                else:
                    issues.append(record)

        try:
            file_report.records = src.add_records(state.path, state.ord, papers())
        except SourceFileError as exc:  # changed again while being read
            file_report.error = str(exc)
        issues.sort(key=lambda i: i.line)
        file_report.issues = len(issues)
        report.issues.extend(issues)
        src.set_file(state)
        return touched

    def _keep_old_papers(self, src: SourceStore, name: str, sha: str, ord_: int) -> None:
        """A file ingested before the store existed and unreadable now: keep its papers."""
        papers = self._papers_by_source_file().get(name, [])
        src.add_records(name, ord_, papers)
        src.set_file(FileState(path=name, ord=ord_, size=None, mtime_ns=None, sha=sha))

    def run_papers(self, papers: Sequence[Paper]) -> IngestReport:
        """Store already-parsed records as they are (the collection holds only these)."""
        report = IngestReport()
        manifest = self.mf.read()
        problem = disagreement(self.config, store_facts(self.config, self.store), manifest)
        listed = manifest.revision if manifest and manifest.complete and not problem else None
        journal = self._begin(manifest, {}, signature(self.config, self.store))
        src = SourceStore(sources_path(self.config))
        try:
            src.begin()
            src.clear()  # the collection no longer comes from source files
            delta = PaperDelta(upserts=list(papers), removed=(), replace_all=True)
            write_papers(
                self.config, self.store, delta, report, journal,
                progress=self.progress, fresh=False, listed=listed,
            )  # fmt: skip
            src.commit()
        finally:
            src.rollback()
            src.close()
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
