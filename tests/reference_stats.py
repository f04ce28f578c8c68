"""Collection-wide values built the plain way, from every record in memory: the reference
the saved per-segment values (`assistant.collection_stats`) are checked against."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from assistant.collection_stats import term_weights
from assistant.text import clean_text, terms


@dataclass(frozen=True)
class TermStats:
    """Document frequencies of stemmed content terms over `n` papers."""

    df: dict[str, int]
    n: int

    @classmethod
    def build(cls, texts: Iterable[str]) -> TermStats:
        """Count, per term, how many of `texts` (one per paper) contain it."""
        df: dict[str, int] = {}
        n = 0
        for text in texts:
            n += 1
            for term in set(terms(clean_text(text))):
                df[term] = df.get(term, 0) + 1
        return cls(df, n)

    def weights(self, text: str) -> dict[str, float]:
        """IDF of each content term of `text` (empty for an empty collection)."""
        return term_weights(text, self.n, lambda t: self.df.get(t, 0))


def name_rows(index: Any) -> Iterator[tuple[str, str, str]]:
    """(paper id, title, abstract) of every indexed paper, as clean text, for a `NameTable`."""
    return ((p.paper_id, clean_text(p.title), clean_text(p.abstract or "")) for p in index.papers())
