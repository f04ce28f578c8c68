"""BM25 of every chunk of a search state, summed the plain way: the reference the fast top n
(`SearchState.lexical_top`) is checked against, itself checked against one bm25s index."""

from __future__ import annotations

import numpy as np

from retrieval.bm25_top import canonical, contribution
from retrieval.state import SearchState


def lexical_scores(state: SearchState, query: str) -> np.ndarray:
    """BM25 score of every global position for `query` (zero for dead chunks)."""
    total = np.zeros(state.size, dtype=np.float32)
    terms = state.query_terms(query)
    if not terms:
        return total
    layout = state.bm25_layout()
    for term, part in canonical(terms):
        docs, tfs = np.asarray(part.docs), np.asarray(part.tfs)
        dead = layout.dead[part.segment]
        if dead is not None:
            keep = ~dead[docs]
            docs, tfs = docs[keep], tfs[keep]
        view = total[state.offsets[part.segment] :]
        view[docs] += contribution(term.weight, tfs, layout.norms(part.segment)[docs])
    return total
