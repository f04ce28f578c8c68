"""Precomputed chunk vectors shipped with the seeds, so the first index build is quick.

Keys are hashes of (embedding model id, chunk text): a vector is used only for exactly the
text and model it was computed with; anything else (other chunk sizes, other models, the
user's own papers) is embedded for real. `scripts/make_seed_vectors.py` writes the file and
tests/test_vector_cache.py checks it against the model.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

from retrieval.resources import data_dir

if TYPE_CHECKING:
    import numpy as np

SEED_VECTORS = "seed_vectors.npz"


def vector_key(model_id: str, text: str) -> str:
    """The cache key of one chunk text under one embedding model."""
    return hashlib.sha256(f"{model_id}\n{text}".encode()).hexdigest()[:24]


@lru_cache(maxsize=1)
def _shipped() -> dict[str, np.ndarray]:
    import numpy as np

    path = data_dir() / SEED_VECTORS
    if not path.is_file():
        return {}
    with np.load(path) as data:
        keys = [str(k) for k in data["keys"]]
        vectors = data["vectors"].astype(np.float32)
    return dict(zip(keys, vectors, strict=True))


def lookup(model_id: str, texts: list[str]) -> list[np.ndarray | None]:
    """The shipped vector for each text, or None where there is none."""
    shipped = _shipped()
    if not shipped:
        return [None] * len(texts)
    return [shipped.get(vector_key(model_id, t)) for t in texts]
