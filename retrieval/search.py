"""Hybrid search: dense (numpy over the state's vectors) + BM25, fused by reciprocal rank,
one hit per paper. Also where the states live, and reading one back from the store."""

from __future__ import annotations

import functools
import re
import shutil
import sqlite3
import time
from typing import TYPE_CHECKING, Literal

import numpy as np

from retrieval.chunking import split_sentences
from retrieval.lexical import tokenize
from retrieval.models import SearchHit
from retrieval.state import SearchState, cache_base, revision_file, revision_of, segments_dir

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from retrieval.config import RetrievalConfig
    from retrieval.store import ChunkStore

__all__ = ["cache_base", "hybrid_search", "load_or_build", "prune_states", "revision_of"]

RRF_K = 60
TMP_GRACE_S = 600
SNIPPET_CHARS = 280


def state_exists(config: RetrievalConfig, revision: str) -> bool:
    return revision_file(cache_base(config), revision).is_file()


def load_or_build(store: ChunkStore, config: RetrievalConfig, revision: str | None) -> SearchState:
    """The state for `revision`: the one its ingest saved, else read back from the store.

    Reading back (`retrieval.state_sync`) saves the state when what was read is exactly
    `revision`; otherwise (an ingest may be writing) it lives in a temp folder for this process.
    """
    if revision is not None:
        loaded = SearchState.open(cache_base(config), revision)
        if loaded is not None:
            return loaded
    from retrieval.state_sync import state_from_store

    try:
        return state_from_store(store, config, revision)
    except (OSError, sqlite3.Error):  # cannot save (disk full, a race): in memory
        return state_from_store(store, config, None)


def prune_states(config: RetrievalConfig, keep: str) -> None:
    """Remove revision files of other revisions, segments `keep` does not use, and temp
    folders of dead writers (young ones may be a writer at work: left alone)."""
    base = cache_base(config)
    kept = SearchState.open(base, keep)
    if kept is None:
        return
    used = {seg.name for seg in kept.segments}
    kept.close()
    now = time.time()
    for old in base.iterdir() if base.is_dir() else []:
        if old.name not in ("segments", "revisions") and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)  # a state folder of the older layout
    for folder, current in ((base / "revisions", f"{keep}.json"), (segments_dir(base), None)):
        for old in folder.iterdir() if folder.is_dir() else []:
            if old.name == current or old.name in used:
                continue
            if old.name.endswith(".tmp") and now - old.stat().st_mtime < TMP_GRACE_S:
                continue
            if folder.name == "revisions" and old.name == "synced.json":
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


PARALLEL_MIN = 50_000  # chunks; below, a thread hand-off costs more than it saves
# Chunks from which a warmed-up process computes query vectors with ONNX Runtime: there the
# vector is the longest step of a search (15-22 ms of ~50 at 1M chunks); below, the saving is
# small next to building the session (0.3-0.6 s, ~100 MB).
FAST_QUERIES_MIN = 50_000


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor  # only for large states (import cost)

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ra-dense")


def _dense_ranking(
    state: SearchState, store: ChunkStore, query: str, n: int, mask: np.ndarray | None
) -> list[int]:
    if not state.n_chunks:
        return []
    pool = _pool() if state.size >= PARALLEL_MIN else None
    return state.dense(store.embed_query(query), n, mask, pool=pool)


def _lexical_ranking(state: SearchState, query: str, n: int, mask: np.ndarray | None) -> list[int]:
    return state.lexical_top(query, n, mask)


def make_snippet(text: str, query: str) -> str:
    """The sentence of `text` (title line dropped) sharing most terms with the query."""
    body = text.split("\n", 1)[1] if "\n" in text else text
    sentences = split_sentences(body) or [body]
    # One tokenize call for the query and every sentence (each call has a fixed cost).
    query_tokens, *sentence_tokens = tokenize([query, *sentences])
    terms = set(query_tokens)
    overlaps = [len(terms & set(tokens)) for tokens in sentence_tokens]
    best = sentences[overlaps.index(max(overlaps))]
    if len(best) > SNIPPET_CHARS:
        best = best[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return re.sub(r"\s+", " ", best)


def warm_up(state: SearchState, store: ChunkStore) -> bool:
    """Ready a long-lived process for many searches: one search opens the store and loads the
    embedding model; a state of `FAST_QUERIES_MIN` chunks or more also gets the faster query
    encoder (`retrieval.minilm_onnx`). True when query vectors now come from that encoder."""
    hybrid_search(state, store, "warm up", k=1)
    return state.size >= FAST_QUERIES_MIN and store.prepare_queries()


def hybrid_search(
    state: SearchState,
    store: ChunkStore,
    query: str,
    *,
    k: int = 5,
    year_from: int | None = None,
    year_to: int | None = None,
    author: str | None = None,
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    snippets: bool = True,
) -> list[SearchHit]:
    """Top `k` papers for `query`: reciprocal-rank fusion of dense and BM25 chunk rankings,
    aggregated to each paper's best chunk, with optional year-range and author filters."""
    query = query.strip()
    if not query or k <= 0:
        return []
    filters = state.allowed(year_from, year_to, author)
    allowed, mask = filters if filters is not None else (None, None)
    if allowed is not None and not allowed:
        return []
    depth = max(50, k * 10)  # chunks each ranking gives the fusion
    if mode == "hybrid" and state.size >= PARALLEL_MIN and state.n_chunks:
        # Two cores: the query vector is computed there while BM25 ranks here, then the
        # dense scans are shared between both threads (numpy releases the GIL).
        vector = _pool().submit(store.embed_query, query)
        lexical = _lexical_ranking(state, query, depth, mask)
        dense = state.dense(vector.result(), depth, mask, pool=_pool())
    else:
        dense = _dense_ranking(state, store, query, depth, mask) if mode != "lexical" else []
        lexical = _lexical_ranking(state, query, depth, mask) if mode != "dense" else []

    fused: dict[int, float] = {}
    dense_rank: dict[int, int] = {}
    lexical_rank: dict[int, int] = {}
    for rank, pos in enumerate(dense, 1):
        fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank)
        dense_rank[pos] = rank
    for rank, pos in enumerate(lexical, 1):
        fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank)
        lexical_rank[pos] = rank

    owners = state.chunks_at(list(fused), text=False)
    by_paper: dict[str, list[int]] = {}
    for pos in sorted(fused, key=lambda p: (-fused[p], p)):
        by_paper.setdefault(owners[pos][0], []).append(pos)
    top = list(by_paper.items())[:k]
    papers = state.papers_by_id([pid for pid, _ in top])
    chunks = state.chunks_at([p for _, positions in top for p in positions])

    hits: list[SearchHit] = []
    for pid, positions in top:
        paper = papers.get(pid)
        if paper is None:
            continue
        best = positions[0]
        paper_dense = [dense_rank[p] for p in positions if p in dense_rank]
        paper_lexical = [lexical_rank[p] for p in positions if p in lexical_rank]
        hits.append(
            SearchHit(
                paper_id=pid,
                title=paper.title,
                arxiv_id=paper.arxiv_id,
                year=paper.year,
                authors=paper.authors,
                score=round(fused[best], 6),
                snippet=make_snippet(chunks[best][1], query) if snippets else "",
                matched_chunks=[chunks[p][1] for p in positions],
                dense_rank=min(paper_dense) if paper_dense else None,
                lexical_rank=min(paper_lexical) if paper_lexical else None,
                paper=paper,
            )
        )
    return hits
