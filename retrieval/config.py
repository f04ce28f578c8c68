"""Configuration of the retrieval layer (a plain pydantic model; the app builds it)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

EmbeddingName = Literal["minilm", "chroma-default", "openai"]


class RetrievalConfig(BaseModel):
    """Where the index lives and how it is built."""

    home: Path
    chroma_url: str | None = None
    collection: str = "papers"
    embedding: EmbeddingName = Field(
        default="minilm",
        description="embedding model: minilm (bundled, offline), chroma-default, openai",
    )
    openai_embedding_model: str = "text-embedding-3-small"
    # cl100k tokens per chunk; MiniLM reads 256 word pieces, so chunks stay below that.
    chunk_tokens: int = Field(
        default=180, ge=32, le=2000, description="chunk size in cl100k tokens"
    )
    chunk_overlap: int = Field(
        default=40, ge=0, le=1000, description="overlap between chunks in cl100k tokens"
    )

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"
