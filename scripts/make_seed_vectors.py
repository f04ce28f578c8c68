"""Write retrieval/data/seed_vectors.npz: the MiniLM vectors of the seeds' chunks.

Run after changing the seeds, the parsers, the chunking defaults or the model:
    .venv/bin/python scripts/make_seed_vectors.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from assistant.config import load_settings
from retrieval.chunking import chunk_paper
from retrieval.embeddings import embedding_function, embedding_model_id
from retrieval.merge import merge_papers
from retrieval.parsers import parse_file
from retrieval.resources import data_dir, seed_files
from retrieval.vector_cache import SEED_VECTORS, vector_key


def main() -> None:
    config = load_settings(home=Path(tempfile.mkdtemp())).retrieval()
    papers = merge_papers([p for f in seed_files() for p in parse_file(f).papers])
    texts = [
        c.text for p in papers for c in chunk_paper(p, config.chunk_tokens, config.chunk_overlap)
    ]
    model_id = embedding_model_id(config)
    vectors = np.asarray(embedding_function(config)(texts), dtype=np.float32)
    keys = np.array([vector_key(model_id, t) for t in texts])
    out = data_dir() / SEED_VECTORS
    np.savez_compressed(out, keys=keys, vectors=vectors.astype(np.float16))
    print(f"wrote {len(texts)} vectors for {model_id} to {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
