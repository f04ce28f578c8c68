"""The Chroma chunk store: embedded on disk by default, a Chroma server when configured."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import numpy as np

from retrieval.config import RetrievalConfig
from retrieval.embeddings import embedding_function, embedding_model_id
from retrieval.errors import RetrievalError, RetrievalErrorKind

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

PAGE = 2000
BATCH = 64


class StoreError(RetrievalError):
    """The store cannot be opened or used; the message says what to do."""

    kind: RetrievalErrorKind = "store"


class EmbeddingMismatchError(StoreError):
    """The collection was built with another embedding model."""

    kind: RetrievalErrorKind = "mismatch"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def damaged_error(config: RetrievalConfig, what: str) -> StoreError:
    """The one error for an embedded store that cannot be read or disagrees with the manifest."""
    return StoreError(
        f"the index store at {config.chroma_path} is damaged: {what}",
        hint="rebuild it with `ra ingest --reindex`",
        kind="store_damaged",
    )


def _client(config: RetrievalConfig) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not config.chroma_url:
        # The caller holds `open_lock`: two processes creating the database at once crash
        # ("table collections already exists").
        config.chroma_path.mkdir(parents=True, exist_ok=True)
        try:
            return chromadb.PersistentClient(path=str(config.chroma_path), settings=chroma_settings)
        except Exception as exc:
            raise damaged_error(config, _first_line(exc)) from exc
    url = urlparse(
        config.chroma_url if "://" in config.chroma_url else f"http://{config.chroma_url}"
    )
    if not url.hostname:
        raise StoreError(f"RA_CHROMA_URL={config.chroma_url!r} is not a URL like http://host:8000")
    try:
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    except Exception as exc:  # chromadb raises ValueError/ConnectError variants
        raise _unreachable(config, exc) from exc


def _unreachable(config: RetrievalConfig, exc: Exception) -> StoreError:
    if config.chroma_url:
        return StoreError(
            f"cannot reach the Chroma server at {config.chroma_url} ({type(exc).__name__}); "
            "start it with `chroma run --path DIR --port PORT`, or unset RA_CHROMA_URL to use "
            "the embedded store",
            kind="unreachable",
        )
    return damaged_error(config, _first_line(exc))


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover - chromadb depends on httpx
        return False
    return isinstance(exc, httpx.TransportError)


def wrap_store_error(config: RetrievalConfig, exc: Exception) -> RetrievalError:
    """Any chromadb/httpx/sqlite failure as a one-line `RetrievalError` of the right kind."""
    if isinstance(exc, RetrievalError):
        return exc
    if config.chroma_url:
        if _is_connection_error(exc):
            return StoreError(
                f"lost the connection to the Chroma server at {config.chroma_url} "
                f"({type(exc).__name__})",
                hint="start the server again, then re-run `ra ingest` to finish",
                kind="unreachable",
            )
        return StoreError(f"the Chroma server at {config.chroma_url} failed: {_first_line(exc)}")
    return damaged_error(config, _first_line(exc))


class ChunkStore:
    """One Chroma collection of chunks; opened lazily, checked against the embedding model."""

    def __init__(self, config: RetrievalConfig) -> None:
        self.config = config
        self.model_id = embedding_model_id(config)
        self._collection: Collection | None = None
        self._ef: Any = None
        # Opening Chroma from several threads at once (eval concurrency, TUI workers) crashes it.
        self._lock = threading.RLock()

    @property
    def ef(self) -> Any:
        """The embedding function (Chroma's interface)."""
        if self._ef is None:
            with self._lock:
                if self._ef is None:
                    self._ef = embedding_function(self.config)
        return self._ef

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn any chromadb/httpx/sqlite exception inside into a `RetrievalError`."""
        try:
            yield
        except RetrievalError:
            raise
        except Exception as exc:
            raise wrap_store_error(self.config, exc) from exc

    @contextmanager
    def _opening(self) -> Iterator[None]:
        """Serialize opening the embedded database across processes (`retrieval.lock`)."""
        if self.config.chroma_url:
            yield
            return
        from retrieval.lock import open_lock

        with open_lock(self.config.home):
            yield

    @property
    def collection(self) -> Collection:
        """The collection, created on first use and refused if built by another model."""
        with self._lock:
            if self._collection is None:
                with self._opening():
                    self._collection = self._open()
            return self._collection

    def _open(self) -> Collection:
        client = _client(self.config)
        name = self.config.collection
        try:
            existing = {c.name: c for c in client.list_collections()}
        except Exception as exc:
            raise _unreachable(self.config, exc) from exc
        if name in existing:
            built_with = (existing[name].metadata or {}).get("embedding_model")
            if built_with and built_with != self.model_id:
                where = self.config.chroma_url or str(self.config.chroma_path)
                raise EmbeddingMismatchError(
                    f"the index '{name}' at {where} was built with embedding model "
                    f"{built_with!r}, but {self.model_id!r} is configured. Re-index with "
                    f"`ra ingest --reindex`, or set RA_EMBEDDING back to the model it was "
                    f"built with."
                )
        try:
            return client.get_or_create_collection(
                name=name,
                embedding_function=self.ef,
                metadata={"embedding_model": self.model_id, "hnsw:space": "cosine"},
            )
        except ValueError as exc:
            raise EmbeddingMismatchError(
                f"cannot open index '{name}': {exc}. Re-index with `ra ingest --reindex`."
            ) from exc
        except Exception as exc:
            raise wrap_store_error(self.config, exc) from exc

    def reset(self) -> None:
        """Drop the collection (used by `ra ingest --reindex`)."""
        with self.errors(), self._opening():
            client = _client(self.config)
            if self.config.collection in {c.name for c in client.list_collections()}:
                client.delete_collection(self.config.collection)
        self._collection = None

    def move_aside(self) -> Path | None:
        """Rename a broken embedded store out of the way (kept, never deleted); its new path."""
        path = self.config.chroma_path
        with self._lock:
            self._collection = None
            _forget_system(path)
            if not path.exists():
                return None
            stamp = now_stamp()
            dest = path.with_name(f"{path.name}.broken-{stamp}")
            n = 1
            while dest.exists():
                n += 1
                dest = path.with_name(f"{path.name}.broken-{stamp}-{n}")
            os.replace(path, dest)
            return dest

    def count(self) -> int:
        """Number of chunks."""
        with self.errors():
            return int(self.collection.count())

    def info(self) -> dict[str, Any]:
        """The collection metadata: revision, chunk and paper counts of the last ingest."""
        with self.errors():
            return dict(self.collection.metadata or {})

    def revision(self) -> str | None:
        """The content revision recorded by the last ingest."""
        value = self.info().get("revision")
        return str(value) if value else None

    def set_revision(
        self,
        revision: str,
        chunks: int | None = None,
        papers: int | None = None,
        seq: int | None = None,
    ) -> None:
        """Record the content revision and counts (collection metadata)."""
        with self.errors():
            meta = dict(self.collection.metadata or {})
            meta.pop("hnsw:space", None)  # immutable after creation; Chroma refuses to modify it
            meta.update({"revision": revision, "embedding_model": self.model_id})
            if chunks is not None:
                meta["chunks"] = chunks
            if papers is not None:
                meta["papers"] = papers
            if seq is not None:  # the write sequence number chunks carry (shared server)
                meta["seq"] = seq
            self.collection.modify(metadata=meta)

    def iter_chunks(self, include_documents: bool = True) -> Iterator[tuple[str, str, dict]]:
        """All chunks as (id, document, metadata), page by page."""
        for cid, doc, meta, _ in self.iter_full(include_documents, vectors=False):
            yield cid, doc, meta

    def iter_full(
        self, include_documents: bool = True, *, vectors: bool = True, where: Any = None
    ) -> Iterator[tuple[str, str, dict, Any]]:
        """Chunks as (id, document, metadata, vector or None), page by page."""
        include: list[Any] = ["metadatas", "documents"] if include_documents else ["metadatas"]
        if vectors:
            include.append("embeddings")
        offset = 0
        while True:
            with self.errors():
                page = self.collection.get(limit=PAGE, offset=offset, include=include, where=where)
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [""] * len(ids)
            metas = page.get("metadatas") or [{}] * len(ids)
            vecs = page.get("embeddings")
            for j, (cid, doc, meta) in enumerate(zip(ids, docs, metas, strict=True)):
                vec = vecs[j] if vecs is not None and len(vecs) > j else None
                yield cid, doc or "", dict(meta or {}), vec
            offset += len(ids)

    def upsert(
        self,
        ids: Sequence[str],
        documents: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Embed and write chunks in batches, reporting each batch's size."""
        for start in range(0, len(ids), BATCH):
            end = start + BATCH
            docs = list(documents[start:end])
            self.write(ids[start:end], docs, self.embed_documents(docs), metadatas[start:end])
            if progress:
                progress(len(docs))

    def write(
        self,
        ids: Sequence[str],
        documents: Sequence[str],
        vectors: Sequence[Any],
        metadatas: Sequence[dict[str, Any]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Write chunks with their vectors, in batches (reporting each batch's size)."""
        for start in range(0, len(ids), BATCH):
            end = start + BATCH
            batch = [np.asarray(v, dtype=np.float32) for v in vectors[start:end]]
            with self.errors():
                self.collection.upsert(
                    ids=list(ids[start:end]),
                    documents=list(documents[start:end]),
                    embeddings=cast(Any, batch),
                    metadatas=list(metadatas[start:end]),
                )
            if progress:
                progress(min(end, len(ids)) - start)

    def existing(self, ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
        """The chunks among `ids` the store holds: id -> (content hash, vector)."""
        out: dict[str, tuple[str, Any]] = {}
        for start in range(0, len(ids), PAGE):
            with self.errors():
                got = self.collection.get(
                    ids=list(ids[start : start + PAGE]), include=["metadatas", "embeddings"]
                )
            metas = got.get("metadatas") or [{}] * len(got["ids"])
            vectors = got.get("embeddings")
            for j, cid in enumerate(got["ids"]):
                vector = vectors[j] if vectors is not None and len(vectors) > j else None
                out[cid] = (str((metas[j] or {}).get("hash", "")), vector)
        return out

    def all_ids(self) -> list[str]:
        """Every chunk id (ids only: no documents, metadata or vectors)."""
        ids: list[str] = []
        offset = 0
        while True:
            with self.errors():
                page = self.collection.get(limit=PAGE * 5, offset=offset, include=[])
            if not page["ids"]:
                return ids
            ids.extend(page["ids"])
            offset += len(page["ids"])

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector; the bundled MiniLM runs without importing chromadb."""
        if self.config.embedding == "minilm":  # the process-wide embedder its ef wraps too
            from retrieval.minilm import get_embedder

            return np.asarray(get_embedder().embed_query(text), dtype=np.float32)
        return np.asarray(self.ef([text])[0], dtype=np.float32)

    def prepare_queries(self) -> bool:
        """Build the faster query encoder of the bundled MiniLM (see `retrieval.minilm_onnx`);
        False for other models or when it cannot be built."""
        if self.config.embedding != "minilm":
            return False
        from retrieval.minilm import get_embedder

        return get_embedder().prepare_queries()

    def embed_documents(self, docs: list[str]) -> list[Any]:
        """Vectors for `docs`: shipped seed vectors where they match exactly, else the model."""
        from retrieval.vector_cache import lookup

        vectors: list[Any] = lookup(self.model_id, docs)
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            computed = self.ef([docs[i] for i in missing])
            for i, vector in zip(missing, computed, strict=True):
                vectors[i] = vector
        return vectors

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        for start in range(0, len(ids), PAGE):
            with self.errors():
                self.collection.delete(ids=list(ids[start : start + PAGE]))

    def query(
        self, query: str, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Nearest chunks to `query` as (chunk id, cosine distance), nearest first."""
        vector = self.ef([query])
        with self.errors():
            result = self.collection.query(
                query_embeddings=vector, n_results=n, where=where, include=["distances"]
            )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[0.0] * len(ids)])[0]
        return list(zip(ids, (float(d) for d in distances), strict=True))


def now_stamp() -> str:
    """A file-name-safe UTC timestamp."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _forget_system(path: Path) -> None:
    """Drop chromadb's in-process cached system for `path` (it holds the old files open)."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient
    except ImportError:  # pragma: no cover
        return
    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        # A broken store may fail to stop cleanly; it is being discarded anyway.
        with contextlib.suppress(Exception):
            system.stop()


def refresh_embedded_client(config: RetrievalConfig) -> None:
    """Make this process re-read the embedded store from disk (another process wrote it).

    chromadb keeps one `System` per path per process, with the vector index in memory, and
    never sees another process's writes. Dropping it from chromadb's cache and opening a new
    client (registered under the same key, so clients made before use the new one) fixes it.
    """
    if config.chroma_url:
        return  # a server serves every writer's data
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(config.chroma_path), None)
    _client(config)
