"""What an ingest hands the write step: the papers that changed, not the whole library.

`PaperDelta` is a stand-in with the same name and fields as the one the storage side is
adding to retrieval/ingest_write.py; `write_delta` is the ONE place that adapts it to today's
`write_papers(papers: list)`. When `write_papers` takes a `PaperDelta`, replace this module's
class with an import of that one and the body of `write_delta` with
`write_papers(config, store, delta, report, journal, progress=progress, fresh=fresh,
listed=listed)` (the `everything` argument is then unused).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval.ingest_write import JournalWriter, Progress, write_papers
from retrieval.models import Paper

if TYPE_CHECKING:
    from retrieval.config import RetrievalConfig
    from retrieval.ingest_report import IngestReport
    from retrieval.store import ChunkStore


@dataclass
class PaperDelta:
    """New or possibly changed papers (in ingest order, streamed) and ids to drop."""

    upserts: Iterable[Paper]
    removed: Collection[str]
    replace_all: bool  # True: upserts are the whole collection, everything else goes


def write_delta(
    config: RetrievalConfig,
    store: ChunkStore,
    delta: PaperDelta,
    report: IngestReport,
    journal: JournalWriter,
    *,
    everything: Callable[[], Iterable[Paper]],
    progress: Progress | None = None,
    fresh: bool,
    listed: str | None = None,
) -> None:
    """Write a delta with today's whole-list `write_papers` (the adapter to replace)."""
    papers = list(delta.upserts) if delta.replace_all else list(everything())
    write_papers(
        config, store, papers, report, journal,
        progress=progress, fresh=fresh, listed=listed,
    )  # fmt: skip
