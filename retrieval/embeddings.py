"""Sentence embeddings: the retrieval layer's one entry point for "which model embeds".

`embedding_function(config)` is the Chroma `EmbeddingFunction` selected by `config.embedding`
(`RA_EMBEDDING`), `embedding_model_id(config)` the stable name recorded in a collection's
metadata. Backends live in `retrieval.embedding_backends` (one registry entry each); the
offline all-MiniLM-L6-v2 in numpy is `retrieval.minilm` (batching, threads) over
`retrieval.minilm_model` (weights, forward pass), with `retrieval.blas_threads`.

Every expected failure is an `EmbeddingModelError` (a `RetrievalError`). Importing this module
is cheap: numpy, tokenizers, safetensors and chromadb load on first use, and
`MiniLMEmbeddingFunction` (Chroma's class) is built on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrieval.embedding_backends import CHROMA_EF_NAME, REGISTRY, backend, minilm_ef_class
from retrieval.errors import EmbeddingModelError
from retrieval.minilm import MiniLMEmbedder, get_embedder
from retrieval.minilm_model import DIMENSION, MAX_SEQ_LENGTH, MODEL_NAME, minilm_model_dir

if TYPE_CHECKING:
    from chromadb.api.types import Embeddable, EmbeddingFunction

    from retrieval.config import RetrievalConfig

__all__ = [
    "CHROMA_EF_NAME",
    "DIMENSION",
    "MAX_SEQ_LENGTH",
    "MODEL_NAME",
    "REGISTRY",
    "EmbeddingModelError",
    "MiniLMEmbedder",
    "embedding_function",
    "embedding_model_id",
    "get_embedder",
    "minilm_model_dir",
]


def __getattr__(name: str) -> Any:
    """Lazy module attribute `MiniLMEmbeddingFunction` (imports chromadb on first access)."""
    if name == "MiniLMEmbeddingFunction":
        return minilm_ef_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def embedding_function(config: RetrievalConfig) -> EmbeddingFunction[Embeddable]:
    """The Chroma `EmbeddingFunction` of the backend `config.embedding` names.

    Raises `EmbeddingModelError` (kind "config") for an unknown backend or a missing key.
    """
    return backend(config.embedding).build(config)


def embedding_model_id(config: RetrievalConfig) -> str:
    """A stable name of the model that builds a collection (recorded in its metadata)."""
    return backend(config.embedding).model_id(config)
