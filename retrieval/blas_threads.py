"""CPU threads for the numpy encoder: worker count, the worker pool, OpenBLAS's own threads.

Big inputs are cut into batches that run on a few worker threads (numpy releases the GIL)
while numpy's OpenBLAS is set to one thread: the matrix products and the element-wise work
(softmax, GELU, LayerNorm) then both use every core, and nothing spins when the machine is
busy. `RA_EMBED_THREADS=1` runs batches one after another with BLAS's own threads instead.

Importing this module is cheap: ctypes and numpy are imported on first use.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["SINGLE_THREADED_BLAS", "OpenBlasThreads", "pool", "worker_count"]

_POOL: ThreadPoolExecutor | None = None
_POOL_WORKERS = 0
_POOL_LOCK = threading.Lock()


def worker_count() -> int:
    """Worker threads for big inputs: RA_EMBED_THREADS, else the usable CPUs (at most 4)."""
    raw = os.environ.get("RA_EMBED_THREADS", "").strip()
    if raw.isdigit():
        return max(1, int(raw))
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(4, len(cpus) if cpus is not None else (os.cpu_count() or 1)))


def pool(workers: int) -> ThreadPoolExecutor:
    """The process-wide worker pool (grown if more workers are asked for)."""
    global _POOL, _POOL_WORKERS
    with _POOL_LOCK:
        if _POOL is None or workers > _POOL_WORKERS:
            from concurrent.futures import ThreadPoolExecutor

            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minilm")
            _POOL_WORKERS = workers
        return _POOL


class OpenBlasThreads:
    """Run numpy's bundled OpenBLAS single-threaded inside `with`, restoring it afterwards.

    Found with ctypes in numpy's wheel libraries; `available` is False when numpy uses another
    BLAS (then nothing changes). Nested and concurrent uses are counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0
        self._set: Any = None
        self._get: Any = None
        self._looked = False

    @property
    def available(self) -> bool:
        """Whether numpy's OpenBLAS thread count can be controlled."""
        with self._lock:
            if not self._looked:
                self._looked = True
                self._find()
        return self._set is not None

    def threads(self) -> int | None:
        """OpenBLAS's current thread count, or None when it cannot be read."""
        return int(self._get()) if self.available else None

    def _find(self) -> None:
        import ctypes

        import numpy

        root = Path(numpy.__file__).resolve().parent
        paths = sorted((root.parent / "numpy.libs").glob("*openblas*"))
        paths += sorted((root / ".dylibs").glob("*openblas*"))
        names = [
            (f"{p}_set_num_threads{s}", f"{p}_get_num_threads{s}")
            for p in ("scipy_openblas", "openblas")
            for s in ("64_", "")
        ]
        for path in paths:
            try:
                lib = ctypes.CDLL(str(path))
            except OSError:
                continue
            for set_name, get_name in names:
                set_fn = getattr(lib, set_name, None)
                get_fn = getattr(lib, get_name, None)
                if set_fn is not None and get_fn is not None:
                    set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                    get_fn.argtypes, get_fn.restype = [], ctypes.c_int
                    self._set, self._get = set_fn, get_fn
                    return

    def __enter__(self) -> None:
        if not self.available:
            return
        with self._lock:
            if self._users == 0:
                self._saved = int(self._get())
                self._set(1)
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        if self._set is None:
            return
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._set(self._saved)


SINGLE_THREADED_BLAS = OpenBlasThreads()
