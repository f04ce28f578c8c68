"""How informative each word is in the whole collection: IDF over every indexed paper.

The offline model weighs a question's words by these to tell a paper on the question's topic
from one that only shares a word with it. IDF over the handful of sources a turn is given
would do the opposite: retrieval already picked them for the topic, so the topic's own words
are in most of them and would weigh least.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


def term_weights(text: str, n: int, df: Callable[[str], int]) -> dict[str, float]:
    """Smoothed IDF, rounded, of each content term of `text` over `n` papers of which
    `df(term)` contain it; a term no paper has gets the highest value."""
    if n == 0:
        return {}
    return {t: round(math.log((n + 1) / (df(t) + 0.5)), 6) for t in sorted(set(terms(text)))}
