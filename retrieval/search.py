"""Hybrid search: dense (Chroma) + BM25, fused by reciprocal rank, one hit per paper."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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
    def from_rows(cls, papers: list[Paper], rows: list[tuple[str, int, str, str]]) -> SearchState:
        """The state for `papers` and their chunks `rows` of (paper id, index, chunk id, text).

        Papers are in ingest order (first source); chunks follow their paper's order, so the
        state is the same whether built during ingest or read back from the store.
        """
        ordered = dict(
            sorted(((p.paper_id, p) for p in papers), key=lambda kv: _first_source_key(kv[1]))
        )
        order = {pid: i for i, pid in enumerate(ordered)}
        rows = sorted(rows, key=lambda r: (order.get(r[0], len(order)), r[1], r[2]))
        lexical_texts = [_lexical_text(ordered.get(r[0]), r[3]) for r in rows]
        return cls(
            papers=ordered,
            chunk_ids=[r[2] for r in rows],
            chunk_papers=[r[0] for r in rows],
            chunk_texts=[r[3] for r in rows],
            lexical=LexicalIndex.build(lexical_texts),
        )

    @classmethod
    def build(cls, store: ChunkStore) -> tuple[SearchState, str]:
        """Read every chunk from the store and index it; also the revision of what was read."""
        papers: list[Paper] = []
        rows: list[tuple[str, int, str, str]] = []
        hashes: list[tuple[str, str]] = []
        for cid, doc, meta in store.iter_chunks():
            pid = str(meta.get("paper_id", ""))
            if "paper" in meta:
                papers.append(Paper.model_validate_json(str(meta["paper"])))
            rows.append((pid, int(meta.get("chunk_index", 0)), cid, doc))
            hashes.append((cid, str(meta.get("hash", ""))))
        return cls.from_rows(papers, rows), revision_of(hashes)

    @classmethod
    def load(cls, directory: Path) -> SearchState | None:
        """The state saved in `directory`, or None when it is missing or unreadable."""
        meta_file = directory / "state.json"
        if not meta_file.is_file():
            return None
        try:
            data = json.loads(meta_file.read_text())
            if data.get("lexical_terms", True) and not (directory / "bm25").is_dir():
                return None
            return cls(
                papers={p["paper_id"]: Paper.model_validate(p) for p in data["papers"]},
                chunk_ids=data["chunk_ids"],
                chunk_papers=data["chunk_papers"],
                chunk_texts=data["chunk_texts"],
                lexical=LexicalIndex.load(directory / "bm25", len(data["chunk_ids"])),
            )
        except (OSError, ValueError, KeyError):
            return None

    @classmethod
    def load_or_build(
        cls, store: ChunkStore, config: RetrievalConfig, revision: str | None
    ) -> SearchState:
        """The state for `revision`, from the on-disk cache when it is there.

        A state read back from the store is cached only when what was read is exactly
        `revision` (an ingest may be writing, or the store may hold leftovers).
        """
        directory = state_dir(config, revision) if revision else None
        if directory is not None:
            loaded = cls.load(directory)
            if loaded is not None:
                return loaded
        state, read_revision = cls.build(store)
        if directory is not None and read_revision == revision:
            state.save(directory)
            prune_states(config, keep=revision)
        return state

    def save(self, directory: Path) -> None:
        """Write the state to `directory` atomically (a temp folder renamed into place)."""
        tmp = directory.with_name(f"{directory.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.lexical.save(tmp / "bm25")
        payload = {
            "papers": [p.model_dump(mode="json") for p in self.papers.values()],
            "chunk_ids": self.chunk_ids,
            "chunk_papers": self.chunk_papers,
            "chunk_texts": self.chunk_texts,
            "lexical_terms": self.lexical.has_terms,
        }
        (tmp / "state.json").write_text(json.dumps(payload))
        shutil.rmtree(directory, ignore_errors=True)
        try:
            tmp.rename(directory)
        except OSError:  # another process saved the same revision first: same content
            shutil.rmtree(tmp, ignore_errors=True)


def revision_of(pairs: Iterable[tuple[str, str]]) -> str:
    """The content revision of a set of (chunk id, chunk hash) pairs."""
    listing = "\n".join(f"{cid} {h}" for cid, h in sorted(pairs))
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def state_dir(config: RetrievalConfig, revision: str) -> Path:
    """Where the search state of `revision` is cached."""
    return config.cache_dir / config.collection / revision


def prune_states(config: RetrievalConfig, keep: str) -> None:
    """Remove cached states of other revisions (and temp folders of dead writers)."""
    base = config.cache_dir / config.collection
    for old in base.iterdir() if base.is_dir() else []:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


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
    snippets: bool = True,
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
                snippet=make_snippet(state.chunk_texts[best], query) if snippets else "",
                matched_chunks=[state.chunk_texts[p] for p in positions],
                dense_rank=min(paper_dense) if paper_dense else None,
                lexical_rank=min(paper_lexical) if paper_lexical else None,
                paper=paper,
            )
        )
    return hits
