"""`ra check`: do the store, the manifest and the search state agree? Reads everything.

Each problem is one line saying what is wrong and, where there is one, the fix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, Field

from retrieval.config import RetrievalConfig
from retrieval.errors import RetrievalError
from retrieval.integrity import IndexStatus, disagreement, store_facts
from retrieval.manifest import ManifestFile
from retrieval.state import (
    SearchState,
    cache_base,
    legacy_revision,
    revision_file,
    revision_of,
)
from retrieval.store import ChunkStore

REINDEX = "run `ra ingest --reindex`"


class CheckReport(BaseModel):
    """The outcome of `PaperIndex.check()`: ok, one line per problem, and the counts seen."""

    ok: bool
    problems: list[str] = Field(default_factory=list)
    manifest_papers: int | None = None
    manifest_chunks: int | None = None
    manifest_revision: str | None = None
    store_chunks: int | None = None
    store_papers: int | None = None
    store_revision: str | None = None
    state_papers: int | None = None
    state_chunks: int | None = None


def run_check(
    config: RetrievalConfig,
    store: ChunkStore,
    manifest_file: ManifestFile,
    status: Callable[[], IndexStatus],
) -> CheckReport:
    """Verify the index under `config`; never raises for a damaged or missing store."""
    report = CheckReport(ok=True)
    problems = report.problems
    where = config.chroma_url or str(config.chroma_path)
    manifest = manifest_file.read()
    if manifest is None and manifest_file.exists():
        problems.append(f"{manifest_file.path} cannot be read; {REINDEX}")
    if manifest is not None:
        report.manifest_papers = manifest.papers
        report.manifest_chunks = manifest.chunks
        report.manifest_revision = manifest.revision
        if not manifest.complete:
            problems.append(status().message or "the last ingest did not finish")

    try:
        facts = store_facts(config, store)
    except RetrievalError as exc:
        problems.append(exc.display())
        return _finish(report)
    problem = disagreement(config, facts, manifest)
    if facts.problem or (problem and not facts.exists):
        problems.append(f"the store at {where} is damaged: {problem}; {REINDEX}")
        return _finish(report)
    if not facts.exists:
        if manifest is not None and manifest.papers:
            problems.append(f"the store at {where} is missing; {REINDEX}")
        return _finish(report)

    try:
        report.store_chunks = store.count()
        report.store_revision = store.revision()
        pairs: list[tuple[str, str]] = []
        paper_ids: set[str] = set()
        first_id: str | None = None
        for cid, _, meta in store.iter_chunks(include_documents=False):
            pairs.append((cid, str(meta.get("hash", ""))))
            paper_ids.add(str(meta.get("paper_id", "")))
            first_id = first_id or cid
        papers = len(paper_ids)
        report.store_papers = papers
        if first_id is not None:
            _check_vectors(store, first_id, problems, where)
    except RetrievalError as exc:
        problems.append(exc.display())
        return _finish(report)

    content = revision_of(pairs)
    if manifest is not None and manifest.complete and manifest.revision:
        if manifest.revision not in (content, legacy_revision(pairs)):
            problems.append(
                f"the store at {where} holds other chunks than the manifest's revision "
                f"({content} vs {manifest.revision}); {REINDEX}"
            )
        if report.store_revision != manifest.revision:
            problems.append(
                f"the store records revision {report.store_revision}, the manifest "
                f"{manifest.revision}; {REINDEX}"
            )
        if manifest.chunks is not None and report.store_chunks != manifest.chunks:
            problems.append(
                f"the store holds {report.store_chunks} chunks, the manifest says "
                f"{manifest.chunks}; {REINDEX}"
            )
        if papers != manifest.papers:
            problems.append(
                f"the store holds {papers} papers, the manifest says {manifest.papers}; {REINDEX}"
            )
    revision = manifest.revision if manifest is not None else report.store_revision
    if revision and (manifest is None or manifest.complete):
        state = SearchState.open(cache_base(config), revision)
        if state is None:
            problems.append(
                f"the search state of revision {revision} is missing or unreadable "
                f"({revision_file(cache_base(config), revision)}); {REINDEX}"
            )
        else:
            report.state_papers = state.n_papers
            report.state_chunks = state.n_chunks
            listing = state.listing()
            if sorted((cid, h) for cid, (h, _) in listing.items()) != sorted(pairs):
                problems.append(
                    f"the search state holds {state.n_chunks} chunks, the store "
                    f"{len(pairs)}; {REINDEX}"
                )
            if first_id is not None and first_id in listing:
                _check_state_vector(store, state, first_id, problems)
            state.close()
    return _finish(report)


def _check_vectors(store: ChunkStore, chunk_id: str, problems: list[str], where: str) -> None:
    """A stored vector must find its own chunk (the vector index is there and readable)."""
    with store.errors():
        got = store.collection.get(ids=[chunk_id], include=["embeddings"])
        vectors = got.get("embeddings")
        if vectors is None or len(vectors) == 0:
            problems.append(f"chunk {chunk_id} has no vector in {where}; {REINDEX}")
            return
        found = store.collection.query(
            query_embeddings=np.asarray([vectors[0]], dtype=np.float32),
            n_results=1,
            include=["distances"],
        )
    if not found["ids"] or chunk_id not in found["ids"][0]:
        problems.append(f"the vector index at {where} does not find stored chunks; {REINDEX}")


def _check_state_vector(
    store: ChunkStore, state: SearchState, chunk_id: str, problems: list[str]
) -> None:
    """The state's copy of a chunk's vector must equal the store's."""
    with store.errors():
        got = store.collection.get(ids=[chunk_id], include=["embeddings"]).get("embeddings")
    for i, seg in enumerate(state.segments):
        rows = seg.query("SELECT pos FROM chunks WHERE chunk_id = ?", (chunk_id,))
        if rows and not state.dead[i][rows[0][0]] and got is not None and len(got):
            mine = seg.vectors_at([rows[0][0]])[0]
            theirs = np.asarray(got[0], dtype=np.float32)
            theirs = theirs / max(float(np.linalg.norm(theirs)), 1e-12)
            if not np.allclose(mine, theirs, atol=1e-4):
                problems.append(f"the search state's vectors differ from the store's; {REINDEX}")
            return


def _finish(report: CheckReport) -> CheckReport:
    report.ok = not report.problems
    return report
