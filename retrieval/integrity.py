"""Does the store agree with the manifest? One answer used by readers, ingest and `ra check`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from retrieval.config import RetrievalConfig
from retrieval.manifest import Manifest
from retrieval.probe import probe_store
from retrieval.store import ChunkStore

IndexState = Literal["empty", "ready", "ingesting", "interrupted", "damaged"]


class IndexStatus(BaseModel):
    """What a reader is looking at: complete or not, and if not, what to do about it."""

    complete: bool
    state: IndexState
    # One line for the user when the index is not complete (None when it is).
    message: str | None = None
    papers: int = 0
    chunks: int | None = None
    revision: str | None = None
    started_at: str | None = None


class StoreFacts(BaseModel):
    """What the store holds, as far as a cheap look can tell."""

    exists: bool
    problem: str | None = None
    revision: str | None = None
    chunks: int | None = None


def store_facts(config: RetrievalConfig, store: ChunkStore) -> StoreFacts:
    """Revision and chunk count of the store: a raw read-only look at the embedded database
    (no Chroma import), or the collection's metadata and count on a server."""
    if config.chroma_url:
        info = store.info()
        rev = info.get("revision")
        return StoreFacts(exists=True, revision=str(rev) if rev else None, chunks=store.count())
    probe = probe_store(config.chroma_path, config.collection)
    if probe.problem:
        return StoreFacts(exists=True, problem=probe.problem)
    if not probe.exists:
        return StoreFacts(exists=False)
    if not probe.known_schema:
        return StoreFacts(exists=True, revision=store.revision(), chunks=store.count())
    return StoreFacts(exists=True, revision=probe.revision, chunks=probe.chunks)


def disagreement(
    config: RetrievalConfig, facts: StoreFacts, manifest: Manifest | None
) -> str | None:
    """How the store disagrees with a complete manifest (one line), or None if it agrees.

    Only a complete manifest can be compared: during or after an interrupted ingest the
    store legitimately differs from the last complete revision.
    """
    if facts.problem:
        return facts.problem
    if manifest is None or not manifest.complete or not manifest.revision:
        return None
    if not facts.exists:
        return f"chroma.sqlite3 is missing (the manifest lists {manifest.papers} papers)"
    if config.chroma_url and facts.revision != manifest.revision:
        return None  # another client wrote a newer revision to the shared server: not damage
    if facts.revision != manifest.revision:
        got = facts.revision or "none"
        return f"it holds revision {got}, the manifest says {manifest.revision}"
    if manifest.chunks is not None and facts.chunks != manifest.chunks:
        return f"it holds {facts.chunks} chunks, the manifest says {manifest.chunks}"
    return None
