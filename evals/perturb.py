"""The `random-sources` perturbation and index warm-up for the eval harness."""

from __future__ import annotations

import hashlib
import random
import threading
from typing import Any

RANDOM_SOURCES = "random-sources"


class RandomSourcesIndex:
    """Wraps a `PaperIndex`: `search` returns papers drawn at random (seeded by the query).

    Used by `--misbehave random-sources` to show that retrieval, citation recall and fact
    metrics fall when the sources are unrelated to the question. Everything else delegates.
    """

    def __init__(self, index: Any) -> None:
        self._index = index
        self._papers: list[Any] | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def _all(self) -> list[Any]:
        with self._lock:
            if self._papers is None:
                self._papers = sorted(self._index.papers(), key=lambda p: p.paper_id)
            return self._papers

    def warm_up(self) -> None:
        """Open the wrapped index and load the paper list (before threads start)."""
        warm_up(self._index)
        self._all()

    def search(self, query: str, k: int = 5, **_: Any) -> list[Any]:
        from retrieval.models import SearchHit

        papers = self._all()
        seed = int(hashlib.sha256(query.encode()).hexdigest()[:16], 16)
        picked = random.Random(seed).sample(papers, min(k, len(papers)))
        return [
            SearchHit(
                paper_id=p.paper_id,
                title=p.title,
                arxiv_id=p.arxiv_id,
                year=p.year,
                authors=p.authors,
                score=1.0 / (i + 1),
                snippet=p.abstract[:280],
                matched_chunks=[f"{p.title}\n{p.abstract}"],
                paper=p,
            )
            for i, p in enumerate(picked)
        ]


def warm_up(index: Any) -> None:
    """Open the store, load the embedding model and the search state in this thread.

    The retrieval layer opens Chroma lazily; doing it once up front keeps worker threads
    from racing to open it.
    """
    custom = getattr(index, "warm_up", None)
    if callable(custom):
        custom()
    else:
        index.search("warm up", k=1)
