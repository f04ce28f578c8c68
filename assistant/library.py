"""The paper-index half of the `Assistant` facade: open, ingest, list, resolve, search.

Every retrieval failure leaves as an `AssistantError` of kind "index" with the retrieval
layer's message and hint, so the shells catch one root per layer.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.errors import AssistantError, PaperNotFound, require_text
from retrieval.errors import RetrievalError

if TYPE_CHECKING:
    from pathlib import Path

    from assistant.collection_stats import CollectionStats
    from retrieval.index import (
        CheckReport,
        IndexStatus,
        IngestReport,
        PaperIndex,
        Progress,
        SearchMode,
    )
    from retrieval.models import Paper, SearchHit


class LibraryAPI:
    """The index operations: part of the `Assistant` facade, and alone behind `Library`
    (`assistant.library_facade`) for the commands that ask no model."""

    settings: Settings
    _index: PaperIndex | None
    _lock: threading.RLock
    _stats: tuple[tuple[tuple[str, frozenset[int]], ...], CollectionStats] | None = None

    @property
    def index(self) -> PaperIndex:
        """The paper index (opened on first use)."""
        with self._lock:
            if self._index is None:
                from retrieval.index import PaperIndex

                self._index = PaperIndex(self.settings.retrieval())
            return self._index

    def ensure_index(
        self, progress: Progress | None = None, notice: Callable[[str], None] | None = None
    ) -> IngestReport | None:
        """Index the shipped seeds when the index is empty; returns the report if it did.

        `notice` hears one line first ("the index is empty; indexing ..."), so a shell can
        say why the first command takes a moment.
        """
        with self._index_errors():
            if self.index.count() > 0:
                return None
            if notice is not None:
                notice("the index is empty; indexing the shipped seed papers…")
            # Takes the writer lock and re-checks: waits for (and keeps) a running ingest.
            return self.index.ensure_seeded(progress=progress, notice=notice)

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        *,
        progress: Progress | None = None,
        reindex: bool = False,
        notice: Callable[[str], None] | None = None,
    ) -> IngestReport:
        """Index files or folders (default: the shipped seeds); see `PaperIndex.ingest`."""
        missing = [str(p) for p in paths or [] if not p.exists()]
        if missing:
            raise AssistantError(f"no such file or folder: {', '.join(missing)}", kind="io")
        with self._index_errors():
            report = self.index.ingest(
                list(paths) if paths else None, progress=progress, reindex=reindex, notice=notice
            )
            with contextlib.suppress(OSError, sqlite3.Error):  # else computed at the first ask
                self.collection_stats(notice, prune=True)
            return report

    def collection_stats(
        self, notice: Callable[[str], None] | None = None, *, prune: bool = False
    ) -> CollectionStats:
        """Collection-wide values for answers (term weights, paper names) of the served
        revision (`assistant.collection_stats`), kept while that revision is served."""
        from assistant.collection_stats import open_stats

        with self._lock, self.index.pinned():
            layout = tuple((seg.name, seg.dead) for seg in self.index.segment_layout())
            kept = self._stats
            if kept is None or kept[0] != layout or prune:
                folder = self.settings.home / "cache" / "assistant" / self.index.config.collection
                kept = (layout, open_stats(self.index, folder, notice, prune=prune))
                self._stats = kept
            return kept[1]

    def index_status(self) -> IndexStatus:
        """Complete, or why not (an ingest running or interrupted, a damaged store)."""
        with self._index_errors():
            return self.index.status()

    def check_index(self) -> CheckReport:
        """Store, manifest and search state checked against each other (`ra check`)."""
        with self._index_errors():
            return self.index.check()

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """Papers for `query`, best first, one hit per paper.

        Raises a usage `AssistantError` for an empty query, k < 1 or a reversed year range.
        """
        query = require_text(query, "query")
        if k < 1:
            raise AssistantError(f"k must be at least 1 (got {k})")
        if year_from is not None and year_to is not None and year_from > year_to:
            raise AssistantError(f"the year range {year_from}..{year_to} is reversed")
        with self._index_errors():
            return self.index.search(
                query, k, year_from=year_from, year_to=year_to, author=author, mode=mode
            )

    def warm_up(self) -> None:
        """Ready this process for many searches (the chat calls it once the index is open):
        state and model loaded, and the faster query encoder for large libraries."""
        with self._index_errors():
            self.index.warm_up()

    def papers(self) -> list[Paper]:
        """Every paper in the index."""
        with self._index_errors():
            return self.index.papers()

    def paper(self, paper_id: str) -> Paper | None:
        """One paper by id."""
        with self._index_errors():
            return self.index.get(paper_id)

    def corpus_size(self) -> int:
        """Number of papers in the index."""
        with self._index_errors():
            return self.index.count()

    def resolve_paper(self, ref: str) -> Paper:
        """The one paper `ref` names (paper id, arXiv id or title fragment).

        Raises `PaperNotFound` with candidates when it names none or several.
        """
        from assistant.sources import named_paper

        with self._index_errors():
            exact = self.index.get(ref.strip())
            named = exact or named_paper(self.index, self.collection_stats().names(), ref)
            matches = [named] if named is not None else self.index.resolve(ref)
        if len(matches) == 1:
            return matches[0]
        raise PaperNotFound(ref, matches[:5], ambiguous=bool(matches))

    @contextmanager
    def _index_errors(self) -> Iterator[None]:
        """Retrieval-layer failures (store, embeddings) as one-line AssistantErrors."""
        try:
            yield
        except RetrievalError as exc:
            raise AssistantError(exc.message, exc.hint, kind="index") from exc

    def index_revision(self) -> str:
        """A cheap token that changes whenever another process re-ingests the index."""
        with self._index_errors():
            return self.index.change_token()

    def reload(self) -> None:
        """Reopen the index (after a re-index elsewhere: the old collection may be gone)."""
        from retrieval.index import PaperIndex

        with self._lock, self._index_errors():
            old = self._index
            # `reopened` also makes chromadb re-read the store this process has open.
            self._index = old.reopened() if old else PaperIndex(self.settings.retrieval())
