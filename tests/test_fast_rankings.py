"""The fast rankings on real segment files equal the plain ones they replace: BM25's top n
(a float32 pass, a sampled threshold, then an exact rescoring) equals every chunk scored
and sorted (`tests/reference_bm25.py`), and dense search split across two threads equals
one thread, with ties always going to the lower position."""

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
from tests.reference_bm25 import lexical_scores
from tests.test_state_segments import _rows, _vectors

QUERIES = ["jailbreak attack", "safety safety moderation", "the of and", "model data xyz",
           "multilingual dialogue agent benchmark reasoning norms evaluation"]  # fmt: skip


def _ranked(state: SearchState, query: str, n: int, mask: np.ndarray | None) -> list[int]:
    """The reference: every chunk scored, sorted by (-score, position)."""
    scores = lexical_scores(state, query)
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
    scores = lexical_scores(state, QUERIES[-1])
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
    with_nan = np.array([np.nan, 1.0, 2.0, 3.0], dtype=np.float32)
    assert top_n(with_nan, 1).tolist() == [3] and top_n(with_nan, 9).tolist() == [3, 2, 1]


def test_duplicate_vectors_tie_to_the_lower_position_however_the_scan_is_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BLAS rounds a row's product differently depending on where it sits in the matrix it
    # is given; fixed blocks make a duplicate's score, and so the tie order, split-proof.
    monkeypatch.setattr("retrieval.state.SPLIT_MIN", 100)
    monkeypatch.setattr("retrieval.dense.BLOCK", 64)
    rng = np.random.default_rng(8)
    vectors = rng.standard_normal((1500, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    copies = [7, 70, 333, 745, 749, 901, 1201, 1499]
    vectors[copies] = vectors[7]  # copies of row 7 in other blocks and other halves
    writer = StateWriter(tmp_path, None)
    papers, chunks = _rows(0, 1500, random.Random(1))
    writer.add(papers, chunks, vectors)
    state = writer.finish()
    noise = rng.standard_normal(384).astype(np.float32)
    query = vectors[7] + 0.5 * noise / np.linalg.norm(noise)
    with ThreadPoolExecutor(max_workers=1) as pool:
        for split in (None, pool):
            assert state.dense(query, 8, None, pool=split) == copies


def test_hybrid_search_side_by_side_equals_one_after_the_other(
    seed_index: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.search as search

    index = seed_index
    state = index._search_state()  # type: ignore[attr-defined]
    store = index.store  # type: ignore[attr-defined]
    queries = ["multi-turn jailbreak", "how do chatbots learn social norms",
               "benchmark for moral reasoning of language models", "zzzz unknownword"]  # fmt: skip
    alone = [search.hybrid_search(state, store, q, k=8) for q in queries]
    monkeypatch.setattr(search, "PARALLEL_MIN", 0)  # the large-collection path
    both = [search.hybrid_search(state, store, q, k=8) for q in queries]
    for a, b in zip(alone, both, strict=True):
        assert [(h.paper_id, h.score, h.snippet, h.dense_rank, h.lexical_rank) for h in a] == [
            (h.paper_id, h.score, h.snippet, h.dense_rank, h.lexical_rank) for h in b
        ]
    assert alone[0] and alone[0][0].matched_chunks


def test_chunks_at_gives_paper_ids_without_texts_when_asked(tmp_path: Path) -> None:
    state = _state(tmp_path, (50,), kill=0)
    full = state.chunks_at([3, 0, 49])
    ids_only = state.chunks_at([3, 0, 49], text=False)
    assert {p: v[0] for p, v in full.items()} == {p: v[0] for p, v in ids_only.items()}
    assert set(ids_only) == {0, 3, 49} and all(v[1] == "" for v in ids_only.values())
    assert any(v[1] for v in full.values())


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
    assert sorted(_contenders(scores, n, 1e-5).tolist()) == (np.arange(30) * 8).tolist()
    # The sample's floor is above the n-th best here; near-ties of the n-th that the sample
    # never looks at, within the slack but below the floor, are kept all the same.
    scores = np.zeros(size, dtype=np.float32)
    scores[np.arange(29) * 8] = 1.0  # sampled
    scores[np.arange(21) * 8 + 1] = 1.0  # not sampled: with the 29, exactly n at the floor
    scores[np.arange(10) * 8 + 2] = np.float32(1 - 5e-6)  # not sampled, within 1e-5
    got = set(_contenders(scores, n, 1e-5).tolist())
    assert set((np.arange(10) * 8 + 2).tolist()) <= got
    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = np.where(rng.random(size) < 0.3, rng.random(size), 0).astype(np.float32)
        scores[rng.integers(0, size, 5)] = scores.max()  # ties at the top
        got = set(_contenders(scores, n, 1e-5).tolist())
        nth = np.sort(scores)[-n]
        assert set(np.flatnonzero(scores >= nth).tolist()) <= got
