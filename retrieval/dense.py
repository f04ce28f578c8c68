"""Dense search over a segment's memory-mapped unit vectors with numpy: exact top-n, or an
IVF-style coarse quantizer for large segments (k-means centroids trained on a sample at
build; rows stored grouped by list; a query scans the `nprobe` lists nearest to it)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from retrieval.blas_threads import SINGLE_THREADED_BLAS

if TYPE_CHECKING:
    from concurrent.futures import Executor

BLOCK = 32_768
TRAIN_PER_LIST = 32
KMEANS_ITERS = 8
# Lists probed per query. On 5,183 SciFact MiniLM vectors (72 lists), probing 11% of the
# lists gave recall@10 0.93 / @50 0.88 against exact, 25% gave 0.98 / 0.96
# (`benchmarks/scale.py --recall`); segments below `retrieval.segment.IVF_MIN` are exact.
PROBE_FRACTION = 1 / 8
MIN_PROBE = 8


class Scan(NamedTuple):
    """A part of a dense search: its cost (rows scanned) and the call that gives its best
    rows (scores, positions in the segment)."""

    cost: int
    run: Callable[[], tuple[np.ndarray, np.ndarray]]


def top_n(scores: np.ndarray, n: int, keys: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `n` highest finite scores, best first; ties go to the lower key (the
    index when no `keys`), so the choice does not depend on how the scores were split."""
    n = min(n, scores.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if np.isnan(scores).any():  # NaN would sort above every number
        scores = np.where(np.isnan(scores), -np.inf, scores)
    if n < scores.size:
        nth = np.partition(scores, scores.size - n)[scores.size - n]
        part = np.flatnonzero(scores >= nth)  # every tie of the n-th, not an arbitrary one
    else:
        part = np.arange(scores.size)
    part = part[np.isfinite(scores[part])]
    tie = part if keys is None else keys[part]
    return part[np.lexsort((tie, -scores[part]))[:n]]


def block_scores(vectors: np.ndarray, query: np.ndarray, start: int, end: int) -> np.ndarray:
    """Cosine scores of rows start:end, one BLAS call per `BLOCK` rows aligned to row 0: a
    row's score then comes from the same call shape however a scan is split (BLAS rounds a
    row differently depending on where it sits in the matrix it is given)."""
    parts = []
    for a in range(start - start % BLOCK, end, BLOCK):
        block = np.asarray(vectors[a : a + BLOCK] @ query, dtype=np.float32)
        parts.append(block[max(start - a, 0) : end - a])
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def exact_top(
    vectors: np.ndarray,
    query: np.ndarray,
    n: int,
    excluded: np.ndarray | None,
    rows: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the `n` rows (of `rows`, default all) most similar to `query`
    that are not excluded."""
    start, end = rows or (0, vectors.shape[0])
    if end <= start:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = block_scores(vectors, query, start, end)
    if excluded is not None:
        scores[excluded[start:end]] = -np.inf
    best = top_n(scores, n)
    return scores[best], best + start


def split_rows(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` row ranges of about equal size with inner bounds on `BLOCK` multiples."""
    blocks = -(-n // BLOCK)
    cuts = [min(n, round(blocks * i / parts) * BLOCK) for i in range(parts + 1)]
    cuts[-1] = n
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def run_split(scans: Sequence[tuple[int, Scan]], n: int, pool: Executor | None) -> list[int]:
    """Global positions of the `n` best over these (offset, scan)s, ties by position: with a
    `pool`, the scans are dealt into two halves of about equal cost, one run there while
    this thread runs the other (numpy releases the GIL); BLAS single-threaded for both, so
    the scores do not depend on the split (without a pool BLAS is left as it is)."""
    halves: list[list[tuple[int, Scan]]] = [[], []]
    loads = [0, 0]
    for offset, scan in sorted(scans, key=lambda s: -s[1].cost):
        lighter = 0 if pool is None or loads[0] <= loads[1] else 1
        halves[lighter].append((offset, scan))
        loads[lighter] += scan.cost
    if pool is None:  # one thread, one BLAS setting: nothing to keep equal across a split
        results = _run_scans(halves[0])
    else:
        with SINGLE_THREADED_BLAS:
            there = pool.submit(_run_scans, halves[1]) if halves[1] else None
            results = _run_scans(halves[0]) + (there.result() if there is not None else [])
    if not results:
        return []
    scores = np.concatenate([s for s, _ in results])
    positions = np.concatenate([p for _, p in results])
    return [int(p) for p in positions[top_n(scores, n, positions)]]


def _run_scans(scans: Sequence[tuple[int, Scan]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each scan's (scores, global positions)."""
    out = []
    for offset, scan in scans:
        scores, positions = scan.run()
        out.append((scores, positions + offset))
    return out


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


def ivf_lists(
    array: Callable[[str], np.ndarray], query: np.ndarray, probe: int | None = None
) -> np.ndarray:
    """The lists to scan for `query`: the `probe` (default `n_probe`) nearest centroids."""
    centroids = array("ivf_centroids")
    probe = probe or n_probe(len(centroids))
    return top_n(np.asarray(centroids @ query, dtype=np.float32), probe)


def ivf_scan(
    array: Callable[[str], np.ndarray],
    query: np.ndarray,
    lists: np.ndarray,
    n: int,
    excluded: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the `n` best rows of these lists that are not excluded."""
    indptr = np.asarray(array("ivf_indptr"))
    rows = np.asarray(array("ivf_rows"))  # plain views: slicing a memmap costs ~5 us a slice
    vectors = np.asarray(array("vectors"))
    scores_parts: list[np.ndarray] = []
    pos_parts: list[np.ndarray] = []
    for lst in lists:
        start, end = int(indptr[lst]), int(indptr[lst + 1])
        if end > start:
            scores_parts.append(np.asarray(vectors[start:end] @ query, dtype=np.float32))
            pos_parts.append(rows[start:end])
    if not pos_parts:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = np.concatenate(scores_parts)
    positions = np.concatenate(pos_parts)
    if excluded is not None:
        scores[excluded[positions]] = -np.inf
    best = top_n(scores, n, positions)
    return scores[best], positions[best]


def ivf_top(
    array: Callable[[str], np.ndarray],
    query: np.ndarray,
    n: int,
    excluded: np.ndarray | None,
    probe: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Like `exact_top` over the lists whose centroids are nearest to `query`."""
    return ivf_scan(array, query, ivf_lists(array, query, probe), n, excluded)


def split_lists(lists: np.ndarray, sizes: np.ndarray, parts: int) -> list[np.ndarray]:
    """`lists` in `parts` groups of about equal total size (largest first, to the lightest)."""
    groups: list[list[int]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for lst in sorted(lists.tolist(), key=lambda x: -int(sizes[x])):
        lightest = loads.index(min(loads))
        groups[lightest].append(lst)
        loads[lightest] += int(sizes[lst])
    return [np.asarray(g, dtype=np.int64) for g in groups if g]
