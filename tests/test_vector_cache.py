"""The shipped seed vectors: complete for the default chunking, and equal to the model's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.config import load_settings
from retrieval.chunking import chunk_paper
from retrieval.embeddings import get_embedder
from retrieval.merge import merge_papers
from retrieval.parsers import parse_file
from retrieval.resources import seed_files
from retrieval.vector_cache import lookup


def _seed_chunk_texts(home: Path) -> tuple[str, list[str]]:
    from retrieval.embeddings import embedding_model_id

    config = load_settings(home=home).retrieval()
    papers = merge_papers([p for f in seed_files() for p in parse_file(f).papers])
    texts = [
        c.text for p in papers for c in chunk_paper(p, config.chunk_tokens, config.chunk_overlap)
    ]
    return embedding_model_id(config), texts


def test_every_seed_chunk_has_a_shipped_vector(tmp_path: Path) -> None:
    model_id, texts = _seed_chunk_texts(tmp_path)
    vectors = lookup(model_id, texts)
    missing = [t[:60] for t, v in zip(texts, vectors, strict=True) if v is None]
    assert not missing, f"stale seed_vectors.npz: run scripts/make_seed_vectors.py ({missing[:3]})"


def test_shipped_vectors_equal_the_models(tmp_path: Path) -> None:
    model_id, texts = _seed_chunk_texts(tmp_path)
    sample = texts[:: max(1, len(texts) // 8)]
    shipped = np.stack([v for v in lookup(model_id, sample) if v is not None])
    computed = get_embedder().embed(sample)
    cosines = (shipped * computed).sum(axis=1) / np.linalg.norm(shipped, axis=1)
    assert cosines.min() >= 0.9995


def test_other_texts_and_models_are_not_served(tmp_path: Path) -> None:
    model_id, texts = _seed_chunk_texts(tmp_path)
    assert lookup(model_id, [texts[0] + " (edited)"]) == [None]
    assert lookup("openai:text-embedding-3-small", [texts[0]]) == [None]
