"""Hybrid search: dense (Chroma) + BM25, fused by reciprocal rank, one hit per paper."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from retrieval.chunking import split_sentences
from retrieval.lexical import LexicalIndex, tokenize
from retrieval.models import Paper, SearchHit

if TYPE_CHECKING:
    from retrieval.config import RetrievalConfig
    from retrieval.store import ChunkStore

RRF_K = 60
SNIPPET_CHARS = 280


@dataclass
class SearchState:
    """What search needs besides Chroma: the papers, the chunk texts and the BM25 index."""

    papers: dict[str, Paper]
    chunk_ids: list[str]
    chunk_papers: list[str]
    chunk_texts: list[str]
    lexical: LexicalIndex
    position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {cid: i for i, cid in enumerate(self.chunk_ids)}

    @classmethod
    def build(cls, store: ChunkStore) -> SearchState:
        """Read every chunk from the store and index it lexically."""
        papers: dict[str, Paper] = {}
        rows: list[tuple[str, int, str, str]] = []
        for cid, doc, meta in store.iter_chunks():
            pid = str(meta.get("paper_id", ""))
            if "paper" in meta:
                papers[pid] = Paper.model_validate_json(str(meta["paper"]))
            rows.append((pid, int(meta.get("chunk_index", 0)), cid, doc))
        order = {pid: i for i, pid in enumerate(papers)}
        rows.sort(key=lambda r: (order.get(r[0], len(order)), r[1]))
        # Ingest order is the order of first appearance in the sources.
        papers = dict(sorted(papers.items(), key=lambda kv: _first_source_key(kv[1])))
        texts = [r[3] for r in rows]
        lexical_texts = [_lexical_text(papers.get(r[0]), r[3]) for r in rows]
        return cls(
            papers=papers,
            chunk_ids=[r[2] for r in rows],
            chunk_papers=[r[0] for r in rows],
            chunk_texts=texts,
            lexical=LexicalIndex.build(lexical_texts),
        )

    @classmethod
    def load_or_build(
        cls, store: ChunkStore, config: RetrievalConfig, revision: str | None
    ) -> SearchState:
        """The state for `revision`, from the on-disk cache when it is there."""
        if not revision:
            return cls.build(store)
        base = config.cache_dir / config.collection
        directory = base / revision
        meta_file = directory / "state.json"
        if meta_file.is_file():
            try:
                data = json.loads(meta_file.read_text())
                return cls(
                    papers={p["paper_id"]: Paper.model_validate(p) for p in data["papers"]},
                    chunk_ids=data["chunk_ids"],
                    chunk_papers=data["chunk_papers"],
                    chunk_texts=data["chunk_texts"],
                    lexical=LexicalIndex.load(directory / "bm25", len(data["chunk_ids"])),
                )
            except (OSError, ValueError, KeyError):
                shutil.rmtree(directory, ignore_errors=True)
        state = cls.build(store)
        state._save(directory)
        # Older revisions are stale.
        for old in base.iterdir() if base.is_dir() else []:
            if old.name != revision:
                shutil.rmtree(old, ignore_errors=True)
        return state

    def _save(self, directory: Any) -> None:
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.lexical.n_docs:
            self.lexical.save(tmp / "bm25")
        payload = {
            "papers": [p.model_dump(mode="json") for p in self.papers.values()],
            "chunk_ids": self.chunk_ids,
            "chunk_papers": self.chunk_papers,
            "chunk_texts": self.chunk_texts,
        }
        (tmp / "state.json").write_text(json.dumps(payload))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)


def _first_source_key(paper: Paper) -> tuple[str, int]:
    if not paper.sources:
        return ("~", 0)
    first = paper.sources[0]
    return (first.file, first.line)


def _lexical_text(paper: Paper | None, chunk_text: str) -> str:
    """Chunk text plus the paper's authors and year, so "papers by X in 2024" match."""
    if paper is None:
        return chunk_text
    extra = " ".join(paper.authors)
    year = str(paper.year) if paper.year else ""
    arxiv = paper.arxiv_id or ""
    return f"{chunk_text}\n{extra} {year} {arxiv}"


def _allowed_papers(
    state: SearchState, year_from: int | None, year_to: int | None, author: str | None
) -> set[str] | None:
    if year_from is None and year_to is None and not author:
        return None
    needle = author.lower().strip() if author else None
    allowed = set()
    for pid, paper in state.papers.items():
        if year_from is not None and (paper.year is None or paper.year < year_from):
            continue
        if year_to is not None and (paper.year is None or paper.year > year_to):
            continue
        if needle and not any(needle in a.lower() for a in paper.authors):
            continue
        allowed.add(pid)
    return allowed


def _dense_ranking(
    state: SearchState, store: ChunkStore, query: str, n: int, allowed: set[str] | None
) -> list[int]:
    if not state.chunk_ids:
        return []
    where = {"paper_id": {"$in": sorted(allowed)}} if allowed is not None else None
    hits = store.query(query, min(n, len(state.chunk_ids)), where=where)
    return [state.position[cid] for cid, _ in hits if cid in state.position]


def _lexical_ranking(state: SearchState, query: str, n: int, allowed: set[str] | None) -> list[int]:
    scores = state.lexical.scores(query)
    if scores.size == 0:
        return []
    if allowed is not None:
        mask = np.fromiter((p in allowed for p in state.chunk_papers), bool, len(scores))
        scores = np.where(mask, scores, 0.0)
    n = min(n, int(np.count_nonzero(scores)))
    if n == 0:
        return []
    top = np.argpartition(-scores, n - 1)[:n]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


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
) -> list[SearchHit]:
    """Top `k` papers for `query`: reciprocal-rank fusion of dense and BM25 chunk rankings,
    aggregated to each paper's best chunk, with optional year-range and author filters."""
    query = query.strip()
    if not query or k <= 0:
        return []
    allowed = _allowed_papers(state, year_from, year_to, author)
    if allowed is not None and not allowed:
        return []
    pool = max(50, k * 10)
    dense = _dense_ranking(state, store, query, pool, allowed) if mode != "lexical" else []
    lexical = _lexical_ranking(state, query, pool, allowed) if mode != "dense" else []

    fused: dict[int, float] = {}
    dense_rank: dict[int, int] = {}
    lexical_rank: dict[int, int] = {}
    for rank, pos in enumerate(dense, 1):
        fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank)
        dense_rank[pos] = rank
    for rank, pos in enumerate(lexical, 1):
        fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank)
        lexical_rank[pos] = rank

    by_paper: dict[str, list[int]] = {}
    for pos in sorted(fused, key=lambda p: (-fused[p], p)):
        by_paper.setdefault(state.chunk_papers[pos], []).append(pos)

    hits: list[SearchHit] = []
    for pid, positions in list(by_paper.items())[:k]:
        paper = state.papers.get(pid)
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
                snippet=make_snippet(state.chunk_texts[best], query),
                matched_chunks=[state.chunk_texts[p] for p in positions],
                dense_rank=min(paper_dense) if paper_dense else None,
                lexical_rank=min(paper_lexical) if paper_lexical else None,
            )
        )
    return hits
