"""`PaperIndex`: the retrieval layer's API (ingest, list, resolve, hybrid search, status).

One writer at a time: `ingest` holds a file lock on RA_HOME (`retrieval.lock`); a second
writer waits and is told so through `notice`. Readers never wait: they serve the last
complete revision the manifest names (`retrieval.manifest`), and `status()` says when the
index is incomplete (an ingest running or interrupted) or damaged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from retrieval.config import RetrievalConfig
from retrieval.integrity import IndexStatus, StoreFacts, disagreement, store_facts
from retrieval.manifest import Manifest, ManifestFile
from retrieval.models import Paper, SearchHit
from retrieval.search import hybrid_search, load_or_build, warm_up
from retrieval.state import SearchState, SegmentInfo
from retrieval.store import ChunkStore, damaged_error

if TYPE_CHECKING:
    from retrieval.check import CheckReport
    from retrieval.ingest import FileReport, Ingestor, IngestReport, Notice, Progress
    from retrieval.records import RecordFilter

__all__ = [
    "CheckReport",
    "FileReport",
    "IndexStatus",
    "IngestReport",
    "Notice",
    "PaperIndex",
    "Progress",
    "SearchMode",
]

# The write side (ingest, merge, parsers, the lock library) loads only when a command writes
# or checks: a one-shot search or listing does not pay for it.
_LAZY = {
    "CheckReport": ("retrieval.check", "CheckReport"),
    "FileReport": ("retrieval.ingest", "FileReport"),
    "IngestReport": ("retrieval.ingest", "IngestReport"),
    "Notice": ("retrieval.ingest", "Notice"),
    "Progress": ("retrieval.ingest", "Progress"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def writer_lock(home: Path, notice: Notice | None = None) -> Any:
    """The writer lock (`retrieval.lock`), imported when a command writes."""
    from retrieval.lock import writer_lock as lock

    return lock(home, notice)


def writer_busy(home: Path) -> bool:
    """True while an ingest holds the writer lock (`retrieval.lock`)."""
    from retrieval.lock import writer_busy as busy

    return busy(home)


SearchMode = Literal["hybrid", "dense", "lexical"]


class PaperIndex:
    """Papers in, hybrid search out. Cheap to construct; opens Chroma on first need."""

    def __init__(self, config: RetrievalConfig) -> None:
        self.config = config
        self.store = ChunkStore(config)
        self.manifest_file = ManifestFile(config.home / f"manifest-{config.collection}.json")
        self._state: SearchState | None = None
        self._state_revision: str | None = None
        self._pin = threading.local()
        self._state_lock = threading.Lock()
        # The last store look that agreed with the manifest, keyed by what would change it.
        self._verified: tuple[object, ...] | None = None

    # ----- writing (one writer at a time) -----

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        *,
        progress: Progress | None = None,
        reindex: bool = False,
        notice: Notice | None = None,
    ) -> IngestReport:
        """Parse, merge, chunk and store the given files (default: the files ingested
        before, or the shipped seeds on a new index).

        Files ingested before stay in the index and are merged with the new ones; files
        whose content is unchanged are not re-embedded, and when nothing changed at all
        nothing is written. An interrupted ingest is finished. `reindex` rebuilds from the
        source files (those given, else those in the manifest) and always recovers: a
        damaged store is moved aside (`report.moved_aside`) and rebuilt.
        """
        with writer_lock(self.config.home, notice):
            try:
                return self._ingestor(progress, notice).run_files(paths, reindex=reindex)
            finally:
                self._forget()

    def ingest_papers(
        self,
        papers: Sequence[Paper],
        *,
        progress: Progress | None = None,
        notice: Notice | None = None,
    ) -> IngestReport:
        """Store already-parsed records as they are (the collection holds only these)."""
        with writer_lock(self.config.home, notice):
            try:
                return self._ingestor(progress, notice).run_papers(papers)
            finally:
                self._forget()

    def ensure_seeded(
        self, *, progress: Progress | None = None, notice: Notice | None = None
    ) -> IngestReport | None:
        """Index the shipped seeds if the index is empty (first use); None if it was not.

        Takes the writer lock, so it waits for a running ingest and then re-checks: an
        index another process just filled is left alone.
        """
        if self._has_content():
            return None
        with writer_lock(self.config.home, notice):
            try:
                if self._has_content():
                    return None
                return self._ingestor(progress, notice).run_files(None, reindex=False)
            finally:
                self._forget()

    def _ingestor(self, progress: Progress | None, notice: Notice | None) -> Ingestor:
        from retrieval.ingest import Ingestor

        return Ingestor(
            self.config,
            self.store,
            self.manifest_file,
            progress=progress,
            notice=notice,
            current_papers=self.papers,
        )

    def _forget(self) -> None:
        with self._state_lock:
            self._state = None
            self._state_revision = None
            self._verified = None

    def _has_content(self) -> bool:
        manifest = self.manifest_file.read()
        if manifest is not None:
            return bool(manifest.files) or manifest.papers > 0 or not manifest.complete
        facts = store_facts(self.config, self.store)
        return bool(facts.problem) or bool(facts.chunks)

    # ----- status -----

    def status(self) -> IndexStatus:
        """Complete or not, and why: cheap (the manifest, a lock probe, a look at the store)."""
        manifest = self.manifest_file.read()
        return self._status(manifest, self._facts(manifest))

    def _facts(self, manifest: Manifest | None) -> StoreFacts:
        if manifest is None and self._empty_home():
            return StoreFacts(exists=False)
        return store_facts(self.config, self.store)

    def _status(self, manifest: Manifest | None, facts: StoreFacts) -> IndexStatus:
        problem = disagreement(self.config, facts, manifest)
        if manifest is None:
            if problem:
                return self._damaged(problem, IndexStatus(complete=False, state="damaged"))
            chunks = facts.chunks or 0
            return IndexStatus(
                complete=True, state="ready" if chunks else "empty", chunks=chunks,
                revision=facts.revision,
            )  # fmt: skip
        journal = manifest.ingest
        base = IndexStatus(
            complete=True,
            state="ready",
            papers=manifest.papers,
            chunks=manifest.chunks,
            revision=manifest.revision,
            started_at=journal.started_at if journal else None,
        )
        if manifest.complete and not problem:
            return base
        if writer_busy(self.config.home):
            message = (
                "an ingest is running; showing the last complete index "
                f"({manifest.papers} papers) until it finishes"
            )
            return base.model_copy(
                update={"complete": False, "state": "ingesting", "message": message}
            )
        if problem:
            return self._damaged(problem, base)
        how_far = f", {journal.written} of {journal.to_write} chunks written" if journal else ""
        started = f" (started {journal.started_at}{how_far})" if journal else ""
        shown = (
            f"showing the last complete index ({manifest.papers} papers)"
            if manifest.revision
            else "showing the papers written so far"
        )
        message = f"the last ingest{started} did not finish; {shown}; run `ra ingest` to finish it"
        return base.model_copy(
            update={"complete": False, "state": "interrupted", "message": message}
        )

    def _damaged(self, problem: str, base: IndexStatus) -> IndexStatus:
        message = damaged_error(self.config, problem).display()
        return base.model_copy(update={"complete": False, "state": "damaged", "message": message})

    def check(self) -> CheckReport:
        """Verify store, manifest and search state agree (reads everything; for `ra check`)."""
        from retrieval.check import run_check

        return run_check(self.config, self.store, self.manifest_file, self.status)

    # ----- reading -----

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One consistent view for a unit of work (a turn): the revision is checked once on
        entry and every read inside serves that state (per thread; nests)."""
        if getattr(self._pin, "state", None) is not None:
            yield
            return
        self._pin.state = self._search_state()
        try:
            yield
        finally:
            self._pin.state = None

    def _search_state(self) -> SearchState:
        """The state readers serve: one manifest read and one store look per call."""
        pinned: SearchState | None = getattr(self._pin, "state", None)
        if pinned is not None:
            return pinned
        manifest = self.manifest_file.read()
        revision = self._reader_revision(manifest)
        with self._state_lock:
            if self._state is None or self._state_revision != revision or revision is None:
                if revision is None and manifest is None and self._empty_home():
                    # A home that cannot be created fails here, before anything else runs.
                    self.config.home.mkdir(parents=True, exist_ok=True)
                    self._state = SearchState.empty()
                else:
                    self._state = load_or_build(self.store, self.config, revision)
                self._state_revision = revision
            return self._state

    def _empty_home(self) -> bool:
        return (
            not self.config.chroma_url and not (self.config.chroma_path / "chroma.sqlite3").exists()
        )

    def _reader_revision(self, manifest: Manifest | None) -> str | None:
        """The revision to serve; raises `store_damaged` when the store disagrees."""
        if self.config.chroma_url:
            key: tuple[object, ...] = ("server", manifest.revision if manifest else None)
        else:
            key = (manifest.revision if manifest else None, manifest.complete if manifest else None,
                   _stat_key(self.config.chroma_path / "chroma.sqlite3"))  # fmt: skip
        if manifest is None and self._empty_home():
            return None
        if self._verified is not None and self._verified[:-1] == key:
            return str(self._verified[-1]) if self._verified[-1] else None
        facts = self._facts(manifest)
        problem = disagreement(self.config, facts, manifest)
        if problem and not writer_busy(self.config.home):
            raise damaged_error(self.config, problem)
        if self.config.chroma_url or manifest is None:
            revision = facts.revision
        else:
            revision = manifest.revision
        self._verified = (*key, revision)
        return revision

    def revision(self) -> str:
        """The content revision of the state readers are served (the pinned one in a turn):
        the same content always gives the same revision."""
        from retrieval.state import revision_hex

        return revision_hex(self._search_state().digest)

    def papers(self) -> list[Paper]:
        """Every paper in the index, in ingest order."""
        return self._search_state().papers()

    def get(self, paper_id: str) -> Paper | None:
        """A paper by its id (one indexed lookup)."""
        return self._search_state().papers_by_id([paper_id]).get(paper_id)

    def count(self) -> int:
        """Number of papers."""
        return self._search_state().n_papers

    def papers_by_id(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """The papers with these ids that exist (indexed lookups)."""
        return self._search_state().papers_by_id(paper_ids)

    def resolve(self, ref: str) -> list[Paper]:
        """Papers matching a reference: paper id, arXiv id, or a title fragment (best first).
        Reads the ids and titles only, then the records it returns."""
        from retrieval.records import titles
        from retrieval.resolve import resolve_reference

        state = self._search_state()
        exact = state.papers_by_id([ref.strip()])
        if exact:
            return list(exact.values())
        found = resolve_reference(ref, titles(state))
        papers = state.papers_by_id([t.paper_id for t in found])
        return [papers[t.paper_id] for t in found if t.paper_id in papers]

    def segment_layout(self) -> list[SegmentInfo]:
        """The served state's segments (name, size, positions of papers deleted from it). A
        segment's content never changes, so values derived from it can be kept by name."""
        return self._search_state().layout()

    def segment_papers(
        self, name: str, positions: Sequence[int] | None = None
    ) -> Iterator[tuple[int, Paper]]:
        """(position, paper) of a segment's papers, deleted ones included (see
        `segment_layout`); all of them, or those at `positions`."""
        return self._search_state().segment_papers(name, positions)

    def select_ids(self, record_filter: RecordFilter) -> list[str]:
        """Ids of every paper meeting the filter, oldest first (`retrieval.records`)."""
        from retrieval.records import select_ids

        return select_ids(self._search_state(), record_filter)

    def author_names(self, candidates: Iterable[str]) -> dict[str, str]:
        """Which candidate names are a paper's author: lower case -> as a record writes it."""
        from retrieval.records import author_names

        return author_names(self._search_state(), candidates)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        mode: SearchMode = "hybrid",
        snippets: bool = True,
    ) -> list[SearchHit]:
        """Papers for `query`, best first, one hit per paper, each with its full `paper`
        (see `retrieval.search`); `snippets=False` skips computing snippets."""
        return hybrid_search(
            self._search_state(),
            self.store,
            query,
            k=k,
            year_from=year_from,
            year_to=year_to,
            author=author,
            mode=mode,
            snippets=snippets,
        )

    def warm_up(self) -> None:
        """Ready a long-lived process (the chat, an eval run) for many searches
        (`retrieval.search.warm_up`)."""
        warm_up(self._search_state(), self.store)

    # ----- change detection for long-lived readers (the chat UI) -----

    def change_token(self) -> str:
        """Changes whenever an ingest (in any process) rewrote the index, a re-index of the
        same content included: the manifest's stat (one syscall), plus the collection's
        revision for a Chroma server that other homes may write to."""
        try:
            stat = self.manifest_file.path.stat()
            token = f"{stat.st_mtime_ns}:{stat.st_size}"
        except OSError:
            token = "none"
        if self.config.chroma_url:
            token += f":{self.store.revision()}"
        return token

    def reopened(self) -> PaperIndex:
        """A fresh index over the same store, re-read from disk (after another process wrote
        it: a plain ingest, or a re-index that replaced the collection)."""
        from retrieval.store import refresh_embedded_client

        refresh_embedded_client(self.config)
        return PaperIndex(self.config)


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
