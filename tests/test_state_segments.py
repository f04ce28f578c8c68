"""The segmented search state on real files: BM25 equals one bm25s index over the live
chunks (across segments, after deletions), dense search is exact (or IVF with high recall),
the revision digest is order-independent, and small segments are merged by tier."""

from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
import pytest

from retrieval.dense import build_ivf, exact_top, ivf_top, n_lists
from retrieval.lexical import tokenize
from retrieval.models import Paper
from retrieval.segment import ChunkRow, PaperRow
from retrieval.state import SearchState, revision_of
from retrieval.state_write import FANOUT, StateWriter, lexical_text
from tests.reference_bm25 import lexical_scores

WORDS = [
    "model",
    "safety",
    "dialogue",
    "jailbreak",
    "agent",
    "language",
    "benchmark",
    "reasoning",
    "moderation",
    "the",
    "of",
    "and",
    "multilingual",
    "attack",
    "defense",
    "social",
    "norms",
    "evaluation",
    "learning",
    "data",
    "large",
]
DIM = 16


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 30)))


def _rows(start: int, n: int, rng: random.Random) -> tuple[list[PaperRow], list[ChunkRow]]:
    papers, chunks = [], []
    for i in range(start, start + n):
        pid = f"p{i}"
        paper = Paper(paper_id=pid, title=pid, year=2020 + i % 5, authors=[f"Author {i % 7}"])
        papers.append(PaperRow(pid, paper.year, f"author {i % 7}", paper.model_dump_json(),
                               "f", i, "h"))  # fmt: skip
        text = _text(rng)
        chunks.append(ChunkRow(f"{pid}#0", pid, 0, f"h{i}", text, lexical_text(paper, text)))
    return papers, chunks


def _vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _segmented(base: Path, seed: int = 3) -> tuple[SearchState, str]:
    """Three segments written by three revisions, with deletions in the first two."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    state: SearchState | None = None
    revision: str | None = None
    start = 0
    for n, kill in ((120, 0), (80, 25), (60, 10)):
        writer = StateWriter(base, state)
        if state is not None:
            live = [(i, int(p)) for i, d in enumerate(state.dead) for p in np.flatnonzero(~d)]
            doomed = rng.sample(live, kill)
            old = state.chunks_of([f"p{state.offsets[i] + p}" for i, p in doomed])
            ids = {f"p{state.offsets[i] + p}" for i, p in doomed}
            rows = state.paper_rows(sorted(ids), "1")
            writer.tombstone(old, [(r[0], r[1]) for r in rows.values()])
        papers, chunks = _rows(start, n, rng)
        writer.add(papers, chunks, _vectors(n, nrng))
        start += n
        state, revision = writer.finish(), writer.revision
    assert state is not None and revision is not None
    return state, revision


def _live_texts(state: SearchState) -> tuple[list[int], list[str]]:
    positions = [state.offsets[i] + int(p) for i, d in enumerate(state.dead)
                 for p in np.flatnonzero(~d)]  # fmt: skip
    texts = state.chunks_at(positions)
    papers = state.papers_by_id([texts[p][0] for p in positions])
    return positions, [lexical_text(papers[texts[p][0]], texts[p][1]) for p in positions]


def test_bm25_equals_one_bm25s_index_over_the_live_chunks(tmp_path: Path) -> None:
    state, _ = _segmented(tmp_path)
    assert len(state.segments) == 3 and state.n_chunks == 260 - 35
    positions, texts = _live_texts(state)
    retriever = bm25s.BM25()  # defaults: method "lucene", k1=1.5, b=0.75
    retriever.index(tokenize(texts), show_progress=False)
    for query in ("jailbreak attack", "safety safety moderation", "the of", "reasoning data xyz"):
        tokens = [t for t in tokenize([query])[0] if t in retriever.vocab_dict]
        expected = retriever.get_scores(tokens) if tokens else np.zeros(len(texts))
        got = lexical_scores(state, query)
        assert np.allclose(got[positions], expected, rtol=1e-5, atol=1e-6), query
        dead = np.ones(state.size, dtype=bool)
        dead[positions] = False
        assert not got[dead].any()  # deleted chunks never score
        top = np.argsort(-expected, kind="stable")[:10]
        assert np.allclose(got[np.asarray(positions)[top]], expected[top])


def test_dense_is_exact_cosine_over_live_chunks(tmp_path: Path) -> None:
    state, _ = _segmented(tmp_path)
    positions = np.asarray(_live_texts(state)[0])
    all_vectors = np.concatenate([np.asarray(s.array("vectors")) for s in state.segments])
    query = _vectors(1, np.random.default_rng(9))[0]
    scores = all_vectors[positions] @ query
    expected = positions[np.argsort(-scores)[:20]].tolist()
    assert state.dense(query, 20, None) == expected
    mask = np.zeros(state.size, dtype=bool)
    mask[positions[::2]] = True  # a filter: only every other live chunk
    assert set(state.dense(query, 20, mask)) <= set(positions[::2].tolist())


def test_ivf_probing_every_list_is_exact_and_few_lists_recall(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    centers = _vectors(40, rng)
    data = centers[rng.integers(0, 40, 6000)] + 0.2 * rng.standard_normal((6000, DIM))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    raw = tmp_path / "raw.f32"
    data.tofile(raw)
    build_ivf(raw, len(data), DIM, tmp_path)
    names = ("ivf_centroids", "ivf_indptr", "ivf_rows")
    arrays = {n: np.load(tmp_path / f"{n}.npy") for n in names}
    arrays["vectors"] = np.fromfile(tmp_path / "vectors.f32", np.float32).reshape(-1, DIM)
    lists = n_lists(len(data))
    recalls = []
    # Queries near the data, as real queries are near the abstracts they look for.
    queries = centers[rng.integers(0, 40, 20)] + 0.2 * rng.standard_normal((20, DIM))
    for q in (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32):
        _, exact = exact_top(data, q, 10, None)
        _, every = ivf_top(arrays.__getitem__, q, 10, None, probe=lists)
        assert every.tolist() == exact.tolist()
        _, some = ivf_top(arrays.__getitem__, q, 10, None)
        recalls.append(len(set(some.tolist()) & set(exact.tolist())) / 10)
    assert np.mean(recalls) >= 0.9


def test_revision_is_order_independent_and_incremental(tmp_path: Path) -> None:
    pairs = [(f"c{i}", f"h{i}") for i in range(50)]
    assert revision_of(pairs) == revision_of(reversed(pairs))
    assert revision_of(pairs) != revision_of(pairs[:-1])
    state, revision = _segmented(tmp_path)
    assert revision == revision_of((cid, h) for cid, (h, _) in state.listing().items())


def test_small_segments_are_merged_by_tier(tmp_path: Path) -> None:
    rng, nrng = random.Random(5), np.random.default_rng(5)
    state: SearchState | None = None
    revision: str | None = None
    for round_ in range(3 * FANOUT):
        writer = StateWriter(tmp_path, state)
        papers, chunks = _rows(round_ * 5, 5, rng)
        writer.add(papers, chunks, _vectors(5, nrng))
        state, revision = writer.finish(), writer.revision
        assert len(state.segments) < 2 * FANOUT
    assert state is not None and state.n_chunks == 15 * FANOUT
    positions, texts = _live_texts(state)
    retriever = bm25s.BM25()
    retriever.index(tokenize(texts), show_progress=False)
    tokens = [t for t in tokenize(["jailbreak safety"])[0] if t in retriever.vocab_dict]
    assert np.allclose(lexical_scores(state, "jailbreak safety")[positions],
                       retriever.get_scores(tokens), rtol=1e-5)  # fmt: skip
    reopened = SearchState.open(tmp_path, str(revision))
    assert reopened is not None and reopened.n_chunks == state.n_chunks


@pytest.mark.parametrize("year", [2021, 2023])
def test_filters_are_sql_over_live_papers(tmp_path: Path, year: int) -> None:
    state, _ = _segmented(tmp_path)
    filtered = state.allowed(year, year, None)
    assert filtered is not None
    ids, mask = filtered
    live = {pid for _, _, pid in state.live_paper_ids()}
    assert ids and ids <= live
    assert all(int(pid[1:]) % 5 == year - 2020 for pid in ids)
    chunks = state.chunks_at(np.flatnonzero(mask).tolist())
    assert {pid for pid, _ in chunks.values()} == ids


def test_query_tokenizer_equals_bm25s_without_importing_it() -> None:
    import subprocess
    import sys

    from retrieval.lexical import _stemmer
    from retrieval.resources import seed_files

    texts = [line for f in seed_files() for line in f.read_text(encoding="utf-8").splitlines()]
    texts += [
        "", "The and of", "Multi-turn jailbreaks, e.g. X-Teaming's 96.2% ASR!",
        "naïve café Ünïcode", "Методы анализа текста", "a1 b2 cc dd_ee 3d 42",
        "RUNNING runs ran runner",
    ]  # fmt: skip
    expected = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    assert tokenize(texts) == [list(t) for t in expected]
    # A query tokenized in a new process leaves the bm25s package unimported.
    code = "import sys; from retrieval.lexical import tokenize; tokenize(['x-teaming jailbreak']);"
    code += "print('bm25s' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
