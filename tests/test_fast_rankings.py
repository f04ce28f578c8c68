"""The fast rankings on real segment files equal the plain ones they replace: BM25's top n
(a float32 pass, a sampled threshold, then an exact rescoring) equals sorting every chunk's
`lexical_scores`, and dense search split across two threads equals one thread, with ties
always going to the lower position."""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import retrieval.segment as segment
from retrieval.dense import exact_top, ivf_top, top_n
from retrieval.state import SearchState
from retrieval.state_write import StateWriter
from tests.test_state_segments import _rows, _vectors

QUERIES = ["jailbreak attack", "safety safety moderation", "the of and", "model data xyz",
           "multilingual dialogue agent benchmark reasoning norms evaluation"]  # fmt: skip


def _ranked(state: SearchState, query: str, n: int, mask: np.ndarray | None) -> list[int]:
    """The reference: every chunk scored, sorted by (-score, position)."""
    scores = state.lexical_scores(query)
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    hits = np.flatnonzero(scores)
    return hits[np.lexsort((hits, -scores[hits]))][:n].tolist()


def _state(base: Path, sizes: tuple[int, ...], kill: int, seed: int = 11) -> SearchState:
    """Segments of these sizes (one revision each), with `kill` chunks deleted per later
    revision, so that dead chunks sit in every segment but the last."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    state: SearchState | None = None
    start = 0
    for n in sizes:
        writer = StateWriter(base, state)
        if state is not None and kill:
            live = [f"p{state.offsets[i] + int(p)}" for i, d in enumerate(state.dead)
                    for p in np.flatnonzero(~d)]  # fmt: skip
            ids = sorted(rng.sample(live, kill))
            rows = state.paper_rows(ids, "1")
            writer.tombstone(state.chunks_of(ids), [(r[0], r[1]) for r in rows.values()])
        papers, chunks = _rows(start, n, rng)
        writer.add(papers, chunks, _vectors(n, nrng))
        start += n
        state = writer.finish()
    assert state is not None
    return state


def test_bm25_top_equals_sorting_every_score(tmp_path: Path) -> None:
    # Three segments, dead chunks in two, a 30-word vocabulary: many exact ties.
    state = _state(tmp_path, (1500, 900, 400), kill=120)
    assert any(d.any() for d in state.dead)
    mask = np.random.default_rng(2).random(state.size) < 0.4
    for query in QUERIES:
        for n in (1, 3, 10, 50, 5000):  # small n: the sampled threshold; 5000: every hit
            for m in (None, mask):
                assert state.lexical_top(query, n, m) == _ranked(state, query, n, m), (query, n)
    assert state.lexical_top("xyz unknownword", 10) == []
    assert state.lexical_top("jailbreak", 10, np.zeros(state.size, dtype=bool)) == []


def test_bm25_top_rescoring_gives_the_plain_scores_order(tmp_path: Path) -> None:
    state = _state(tmp_path, (800,), kill=0)
    scores = state.lexical_scores(QUERIES[-1])
    top = state.lexical_top(QUERIES[-1], 40)
    got = scores[top]
    assert (np.diff(got) <= 0).all()  # best first by the plain scores
    for a, b in itertools.pairwise(top):
        assert scores[a] > scores[b] or a < b  # ties: lower position first


def test_top_n_breaks_ties_by_key_whatever_the_order() -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0, -np.inf], dtype=np.float32)
    assert top_n(scores, 2).tolist() == [1, 2]
    keys = np.array([9, 8, 7, 6, 5, 4])
    assert top_n(scores, 2, keys).tolist() == [4, 2]  # same scores: lowest key wins
    assert top_n(scores, 10).tolist() == [1, 2, 4, 3, 0]  # -inf never returned


@pytest.mark.parametrize("ivf", [False, True])
def test_dense_split_over_two_threads_equals_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ivf: bool
) -> None:
    monkeypatch.setattr(segment, "IVF_MIN", 1000 if ivf else 10**9)
    monkeypatch.setattr("retrieval.state.SPLIT_MIN", 100)
    state = _state(tmp_path, (3000, 1200, 50), kill=200)
    assert state.segments[0].ivf is ivf
    queries = _vectors(12, np.random.default_rng(4))
    mask = np.random.default_rng(5).random(state.size) < 0.5
    with ThreadPoolExecutor(max_workers=1) as pool:
        for q in queries:
            for m in (None, mask):
                alone = state.dense(q, 30, m)
                assert state.dense(q, 30, m, pool=pool) == alone
                assert len(alone) == 30
                allowed = ~np.concatenate(state.dead) & (m if m is not None else True)
                assert allowed[alone].all()
    if not ivf:  # exact: the split search is the exact cosine ranking of the live chunks
        vectors = np.concatenate([np.asarray(s.array("vectors")) for s in state.segments])
        excluded = np.concatenate(state.dead)
        _, expected = exact_top(vectors, queries[0], 30, excluded)
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert state.dense(queries[0], 30, None, pool=pool) == expected.tolist()
    else:  # IVF: the split scans cover the same lists as one scan
        seg = state.segments[0]
        _, one = ivf_top(seg.array, queries[1], 30, state.dead[0])
        with ThreadPoolExecutor(max_workers=1) as pool:
            parts = seg.dense_scans(queries[1], 30, state.dead[0], 2)
            assert len(parts) == 2
            merged = [p for s in parts for p in zip(*s.run(), strict=True)]
        scores = np.array([s for s, _ in merged], dtype=np.float32)
        positions = np.array([p for _, p in merged])
        assert positions[top_n(scores, 30, positions)].tolist() == one.tolist()


def test_contenders_hold_the_top_n_even_when_the_sample_misjudges() -> None:
    from retrieval.bm25_top import _contenders

    n, size = 50, 64 * 50 * 8  # the sample takes every 8th score
    scores = np.zeros(size, dtype=np.float32)
    scores[np.arange(30) * 8] = np.arange(1, 31)  # 30 hits, all where the sample looks
    assert sorted(_contenders(scores, n).tolist()) == (np.arange(30) * 8).tolist()
    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = np.where(rng.random(size) < 0.3, rng.random(size), 0).astype(np.float32)
        scores[rng.integers(0, size, 5)] = scores.max()  # ties at the top
        got = set(_contenders(scores, n).tolist())
        nth = np.sort(scores)[-n]
        assert set(np.flatnonzero(scores >= nth).tolist()) <= got
