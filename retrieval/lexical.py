"""Lexical retrieval: BM25 over chunk texts with `bm25s` (English stop words, Snowball stems)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import bm25s


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens for each text."""
    import bm25s

    out = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [list(tokens) for tokens in out]


class LexicalIndex:
    """A BM25 index over a fixed list of documents (positions match the caller's list)."""

    def __init__(self, retriever: bm25s.BM25 | None, n_docs: int) -> None:
        # None when no document has a single indexable term (bm25s cannot index that).
        self._retriever = retriever
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        """Index `texts`; a corpus without terms gives an index that scores nothing."""
        import bm25s

        tokens = tokenize(texts) if texts else []
        if not any(tokens):
            return cls(None, len(texts))
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    @property
    def has_terms(self) -> bool:
        """False when nothing was indexed (then there is nothing to save)."""
        return self._retriever is not None

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for `query` (zeros when no query term is known)."""
        if self.n_docs == 0:
            return np.zeros(0, dtype=np.float32)
        if self._retriever is None:
            return np.zeros(self.n_docs, dtype=np.float32)
        vocab = self._retriever.vocab_dict
        tokens = [t for t in tokenize([query])[0] if t in vocab]
        if not tokens:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def save(self, directory: Path) -> None:
        """Persist the index (bm25s's own format); nothing when it has no terms."""
        if self._retriever is not None:
            self._retriever.save(str(directory))

    @classmethod
    def load(cls, directory: Path, n_docs: int) -> LexicalIndex:
        """Load an index saved with `save`."""
        import bm25s

        if n_docs == 0 or not directory.is_dir():
            return cls(None, n_docs)
        retriever = bm25s.BM25.load(str(directory), mmap=False)
        return cls(retriever, n_docs)
