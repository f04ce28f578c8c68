"""Warm search latency over a search state of N synthetic one-chunk papers, written directly
by the state writer (no Chroma), for sizes whose full ingest takes an hour.

`scale.py --n 1000000` measures the whole path end to end (Chroma, the state, one-shot
commands); this script builds only the search state the readers serve (the same writer:
segments of 500k chunks, IVF above 200k) with PRECOMPUTED random unit vectors, then times
`hybrid_search` per mode with the real MiniLM query embedder, and hybrid with its two
rankings run one after the other as well as side by side (the default above 50k chunks).

    .venv/bin/python benchmarks/search_scale.py --n 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Stopwatch,
    SyntheticCorpus,
    machine_line,
    note,
    print_table,
    retrieval_config,
    seed_queries,
    summary_ms,
    temp_home,
    verdict,
)

P50_TARGET_MS = 50.0
BATCH = 20_000
REUSE = "search_scale.txt"  # "<papers> <revision>" of the state kept under --home


def build(home: Path, n: int) -> object:
    """The search state of `n` synthetic papers under `home` (written in batches)."""
    import numpy as np

    from retrieval.segment import ChunkRow
    from retrieval.state import cache_base
    from retrieval.state_write import StateWriter, lexical_text, paper_hash, paper_row

    config = retrieval_config(home)
    writer = StateWriter(cache_base(config), None)
    rng = np.random.default_rng(7)
    papers = SyntheticCorpus().iter_papers(n)
    done = 0
    while done < n:
        batch = [next(papers) for _ in range(min(BATCH, n - done))]
        rows = [paper_row(p, paper_hash(p, 0, 0)) for p in batch]
        chunks = [
            ChunkRow(f"{p.paper_id}#0", p.paper_id, 0, f"h{p.paper_id}", p.abstract,
                     lexical_text(p, p.abstract))
            for p in batch
        ]  # fmt: skip
        vectors = rng.standard_normal((len(batch), 384), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        writer.add(rows, chunks, vectors)
        done += len(batch)
    return writer.finish()


def reuse(home: Path, n: int) -> object | None:
    """The state a previous `--home` run built for `n` papers, or None."""
    from retrieval.state import SearchState, cache_base

    try:
        size, revision = (home / REUSE).read_text().split()
    except (OSError, ValueError):
        return None
    if int(size) != n:
        return None
    return SearchState.open(cache_base(retrieval_config(home)), revision)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="synthetic papers (= chunks)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--home", type=Path, help="keep the state in this RA_HOME; reuse it if built for --n"
    )
    args = parser.parse_args(argv)
    import retrieval.search as search
    from retrieval.state import revision_hex
    from retrieval.store import ChunkStore

    print(machine_line(f"search_scale: {args.n:,} synthetic papers, search state only"))
    note("PRECOMPUTED random unit vectors (not MiniLM): dense relevance is not real")
    with contextlib.ExitStack() as stack:
        home = args.home or stack.enter_context(temp_home())
        state = reuse(home, args.n) if args.home else None
        if state is None:
            start = time.perf_counter()
            state = build(home, args.n)
            note(f"state written in {time.perf_counter() - start:,.0f} s")
            (home / REUSE).write_text(f"{args.n} {revision_hex(state.digest)}")  # type: ignore
        else:
            note(f"reusing the state of {args.n:,} papers in {home}")
        store = ChunkStore(retrieval_config(home))
        # What `PaperIndex.warm_up` does in a long-lived process (the chat).
        if search.warm_up(state, store):  # type: ignore[arg-type]
            note("query vectors: ONNX Runtime (as a warmed-up process computes them)")
        else:
            note("query vectors: numpy")
        queries = seed_queries(args.queries)
        # Warm means every query's pages were mapped once: a first pass over the queries (each
        # touches an eighth of the IVF lists) costs page faults a long-lived process pays once.
        # It is timed too, as its own row.
        first = []
        for q in queries:
            with Stopwatch() as sw:
                search.hybrid_search(state, store, q, k=5)  # type: ignore[arg-type]
            first.append(sw.wall)
        s = summary_ms(first)
        rows = [["hybrid, first pass (pages mapped on first use)", len(first), s["p50"],
                 s["p95"], s["mean"], s["max"], ""]]  # fmt: skip
        runs = [("hybrid", "hybrid"), ("hybrid, one after the other", "hybrid"),
                ("dense", "dense"), ("lexical", "lexical")]  # fmt: skip
        for label, mode in runs:
            parallel_min = search.PARALLEL_MIN
            if "one after" in label:
                search.PARALLEL_MIN = sys.maxsize
            times = []
            for q in queries:
                with Stopwatch() as sw:
                    search.hybrid_search(state, store, q, k=5, mode=mode)  # type: ignore
                times.append(sw.wall)
            search.PARALLEL_MIN = parallel_min
            s = summary_ms(times)
            target = verdict(s["p50"], P50_TARGET_MS) if mode == "hybrid" else ""
            rows.append([label, len(times), s["p50"], s["p95"], s["mean"], s["max"], target])
        print_table(["mode", "queries", "p50 ms", "p95 ms", "mean ms", "max ms", "p50 < 50 ms"],
                    rows, f"Warm search latency at {args.n:,} chunks (k=5)")  # fmt: skip
        print(machine_line("after"))


if __name__ == "__main__":
    main()
