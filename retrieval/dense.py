"""Dense search over a segment's memory-mapped unit vectors with numpy: exact top-n, or an
IVF-style coarse quantizer for large segments (k-means centroids trained on a sample at
build; rows stored grouped by list; a query scans the `nprobe` lists nearest to it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

BLOCK = 32_768
TRAIN_PER_LIST = 32
KMEANS_ITERS = 8
# Lists probed per query. On 5,183 SciFact MiniLM vectors (72 lists), probing 11% of the
# lists gave recall@10 0.93 / @50 0.88 against exact, 25% gave 0.98 / 0.96
# (`benchmarks/scale.py --recall`); segments below `retrieval.segment.IVF_MIN` are exact.
PROBE_FRACTION = 1 / 8
MIN_PROBE = 8


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest finite scores, best first (ties by index)."""
    finite = np.isfinite(scores)
    n = min(n, int(np.count_nonzero(finite)))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
    part = part[np.isfinite(scores[part])]
    return part[np.lexsort((part, -scores[part]))]


def exact_top(
    vectors: np.ndarray, query: np.ndarray, n: int, excluded: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the `n` rows most similar to `query` that are not excluded."""
    if vectors.shape[0] == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = np.asarray(vectors @ query, dtype=np.float32)
    if excluded is not None:
        scores[excluded] = -np.inf
    best = top_n(scores, n)
    return scores[best], best


def n_lists(n: int) -> int:
    return int(min(4096, max(16, round(np.sqrt(n)))))


def n_probe(lists: int) -> int:
    return min(lists, max(MIN_PROBE, int(np.ceil(lists * PROBE_FRACTION))))


def kmeans(sample: np.ndarray, k: int, iters: int = KMEANS_ITERS, seed: int = 0) -> np.ndarray:
    """Spherical k-means centroids (unit norm) of unit-norm rows."""
    rng = np.random.default_rng(seed)
    centroids = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
        norms[empty] = 1.0
        centroids = (sums / norms).astype(np.float32)
    return centroids


def build_ivf(raw: Path, n: int, dim: int, out: Path) -> None:
    """Write `vectors.f32` grouped by list, with centroids, list bounds and the row maps."""
    vecs = np.memmap(raw, dtype=np.float32, mode="r", shape=(n, dim))
    lists = n_lists(n)
    rng = np.random.default_rng(0)
    size = min(n, lists * TRAIN_PER_LIST)
    sample = np.asarray(vecs[np.sort(rng.choice(n, size=size, replace=False))])
    centroids = kmeans(sample, lists)
    assign = np.empty(n, dtype=np.int32)
    for start in range(0, n, BLOCK):
        assign[start : start + BLOCK] = np.argmax(vecs[start : start + BLOCK] @ centroids.T, 1)
    order = np.argsort(assign, kind="stable")
    indptr = np.zeros(lists + 1, dtype=np.int64)
    np.cumsum(np.bincount(assign, minlength=lists), out=indptr[1:])
    grouped = np.memmap(out / "vectors.f32", dtype=np.float32, mode="w+", shape=(n, dim))
    for start in range(0, n, BLOCK):
        grouped[start : start + BLOCK] = vecs[order[start : start + BLOCK]]
    grouped.flush()
    del grouped
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    np.save(out / "ivf_centroids.npy", centroids)
    np.save(out / "ivf_indptr.npy", indptr)
    np.save(out / "ivf_rows.npy", order.astype(np.int64))
    np.save(out / "ivf_where.npy", where)


def ivf_top(
    array: Callable[[str], np.ndarray],
    query: np.ndarray,
    n: int,
    excluded: np.ndarray | None,
    probe: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Like `exact_top` over the lists whose centroids are nearest to `query`."""
    centroids = array("ivf_centroids")
    indptr = array("ivf_indptr")
    rows = array("ivf_rows")
    vectors = array("vectors")
    probe = probe or n_probe(len(centroids))
    nearest = top_n(np.asarray(centroids @ query, dtype=np.float32), probe)
    scores_parts: list[np.ndarray] = []
    pos_parts: list[np.ndarray] = []
    for lst in nearest:
        start, end = int(indptr[lst]), int(indptr[lst + 1])
        if end > start:
            scores_parts.append(np.asarray(vectors[start:end] @ query, dtype=np.float32))
            pos_parts.append(np.asarray(rows[start:end]))
    if not pos_parts:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = np.concatenate(scores_parts)
    positions = np.concatenate(pos_parts)
    if excluded is not None:
        scores[excluded[positions]] = -np.inf
    best = top_n(scores, n)
    return scores[best], positions[best]
