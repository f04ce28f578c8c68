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
from retrieval.search import SearchState, revision_of, state_dir
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
        papers = 0
        first_id: str | None = None
        for cid, _, meta in store.iter_chunks(include_documents=False):
            pairs.append((cid, str(meta.get("hash", ""))))
            papers += "paper" in meta
            first_id = first_id or cid
        report.store_papers = papers
        if first_id is not None:
            _check_vectors(store, first_id, problems, where)
    except RetrievalError as exc:
        problems.append(exc.display())
        return _finish(report)

    content = revision_of(pairs)
    if manifest is not None and manifest.complete and manifest.revision:
        if content != manifest.revision:
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
        state = SearchState.load(state_dir(config, revision))
        if state is None:
            problems.append(
                f"the search state of revision {revision} is missing or unreadable "
                f"({state_dir(config, revision)}); {REINDEX}"
            )
        else:
            report.state_papers = len(state.papers)
            report.state_chunks = len(state.chunk_ids)
            if sorted(state.chunk_ids) != sorted(c for c, _ in pairs):
                problems.append(
                    f"the search state holds {len(state.chunk_ids)} chunks, the store "
                    f"{len(pairs)}; {REINDEX}"
                )
            if state.lexical.n_docs != len(state.chunk_ids):
                problems.append(f"the lexical index does not match its chunks; {REINDEX}")
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


def _finish(report: CheckReport) -> CheckReport:
    report.ok = not report.problems
    return report
