"""Reading a search state back from the store (the vector store of record).

Used when the state of the revision to serve is missing: after an interrupted first ingest,
or on a shared Chroma server written by another client. On a server the chunk metadata
carries the paper records and each write's sequence number (`seq`), and a client keeps
`revisions/synced.json` (the revision and sequence number its cache reached): it fetches only
the chunks written since, drops ids no longer present, and saves the result. The embedded
store keeps paper records only in the local state, so a state read back from it has short
records (id, title, year, abstract) and lives in a temp folder for this process only.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.models import Paper
from retrieval.segment import ChunkRow
from retrieval.state import SearchState, cache_base, legacy_revision, revision_file
from retrieval.state_write import StateWriter, lexical_text, paper_hash, paper_row

if TYPE_CHECKING:
    from retrieval.config import RetrievalConfig
    from retrieval.store import ChunkStore

SYNC_FILE = "synced.json"
PAGE_ROWS = 2000
_Item = tuple[str, str, dict[str, Any], Any]


def _paper_of(cid: str, doc: str, meta: dict[str, Any]) -> Paper | None:
    if "paper" in meta:
        return Paper.model_validate_json(str(meta["paper"]))
    if int(meta.get("chunk_index", 0)) != 0:
        return None
    title, _, abstract = doc.partition("\n")
    year = meta.get("year")
    return Paper(
        paper_id=str(meta.get("paper_id", cid)),
        title=str(meta.get("title") or title),
        year=int(year) if year is not None else None,
        abstract=abstract.strip(),
    )


class _Read:
    """What a read-back saw: (chunk id, hash) pairs and whether every record was whole."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []
        self.whole = True

    def legacy_revision(self) -> str:
        return legacy_revision(self.pairs)


def _add(
    writer: StateWriter,
    items: Iterable[_Item],
    extra: dict[str, Paper],
    config: RetrievalConfig,
    seen: _Read | None = None,
) -> None:
    """Add chunks (and the papers their chunk 0 carries) to `writer`, a page at a time."""
    page: list[_Item] = []

    def flush() -> None:
        if seen is not None:
            seen.pairs.extend((c, str(m.get("hash", ""))) for c, _, m, _ in page)
            seen.whole = seen.whole and all(
                "paper" in m for _, _, m, _ in page if int(m.get("chunk_index", 0)) == 0
            )
        papers = [_paper_of(c, d, m) for c, d, m, _ in page]
        found = [p for p in papers if p is not None]
        extra.update((p.paper_id, p) for p in found)
        rows = [
            ChunkRow(cid, str(meta.get("paper_id", "")), int(meta.get("chunk_index", 0)),
                     str(meta.get("hash", "")), doc,
                     lexical_text(extra.get(str(meta.get("paper_id", ""))), doc))
            for cid, doc, meta, _ in page
        ]  # fmt: skip
        vectors = np.asarray([v for *_, v in page], dtype=np.float32).reshape(len(page), -1)
        hashes = [paper_hash(p, config.chunk_tokens, config.chunk_overlap) for p in found]
        writer.add([paper_row(p, h) for p, h in zip(found, hashes, strict=True)], rows, vectors)
        page.clear()

    for item in items:
        page.append(item)
        if len(page) >= PAGE_ROWS:
            flush()
    if page:
        flush()


def state_from_store(
    store: ChunkStore, config: RetrievalConfig, revision: str | None
) -> SearchState:
    """The store's content as a search state (see the module docstring)."""
    base = cache_base(config)
    if config.chroma_url:
        synced = _read_sync(base)
        if synced is not None:
            state = _incremental(store, config, base, synced)
            if state is not None:
                return state
    if revision is not None:
        # Saved when the records are whole (a server's, or an embedded store written before
        # records moved to the state, whose revision is a `legacy_revision`).
        base.mkdir(parents=True, exist_ok=True)
        writer = StateWriter(base, None)
        seen = _Read()
        _add(writer, store.iter_full(), {}, config, seen)
        if seen.whole:  # saved under `revision` when it is that, else under its own digest
            exact = revision in (writer.revision, seen.legacy_revision())
            state = writer.finish(name=revision if exact else None)
            if config.chroma_url and exact:
                write_sync(base, revision, int(store.info().get("seq", 0)))
            return state
        writer.abort()
    temp = tempfile.TemporaryDirectory(prefix="ra-state-")
    writer = StateWriter(Path(temp.name), None)
    _add(writer, store.iter_full(), {}, config)
    state = writer.finish()
    state._keep = temp
    return state


def _incremental(
    store: ChunkStore, config: RetrievalConfig, base: Path, synced: dict[str, Any]
) -> SearchState | None:
    """Bring the cached revision up to the server's: chunks written since, ids gone."""
    info = store.info()
    seq = int(info.get("seq", 0))
    target = info.get("revision")
    prev = SearchState.open(base, str(synced["revision"]))
    if prev is None or not target:
        return None
    if synced["revision"] == target:
        return prev
    present = set(store.all_ids())
    newer = list(store.iter_full(where={"seq": {"$gt": int(synced["seq"])}}))
    listing = prev.listing()
    affected = {m.get("paper_id") for _, _, m, _ in newer}
    affected |= {pid for cid, (_, pid) in listing.items() if cid not in present}
    affected_ids = sorted(str(a) for a in affected if a)
    writer = StateWriter(base, prev)
    old_rows = prev.paper_rows(affected_ids, "1")
    writer.tombstone(prev.chunks_of(affected_ids), [(r[0], r[1]) for r in old_rows.values()])
    extra: dict[str, Paper] = {}
    for start in range(0, len(affected_ids), 500):
        part = affected_ids[start : start + 500]
        _add(writer, store.iter_full(where={"paper_id": {"$in": part}}), extra, config)
    if writer.revision != target:  # a writer is at work: try again next time
        writer.abort()
        prev.close()
        return None
    state = writer.finish()
    write_sync(base, writer.revision, seq)
    return state


def _read_sync(base: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((base / "revisions" / SYNC_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not revision_file(base, str(data.get("revision"))).is_file():
        return None
    return data


def write_sync(base: Path, revision: str, seq: int) -> None:
    path = base / "revisions" / SYNC_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{SYNC_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"revision": revision, "seq": seq}))
    os.replace(tmp, path)
