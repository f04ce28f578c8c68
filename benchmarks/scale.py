"""Ingest and search at scale: N synthetic abstracts in their own collection of a temp home.

Each synthetic abstract chunks to exactly one chunk, so N papers = N chunks.

Writing modes (`--write`):
- `embed`: `PaperIndex.ingest_papers` end to end (chunking, MiniLM embeddings, Chroma upsert).
- `vectors`: chunks and metadata exactly as `PaperIndex` writes them (`_chunk_metadata`), but
  with precomputed random unit vectors upserted straight into the store's Chroma collection,
  for sizes whose embedding would take too long on a small machine. Search latency is then
  measured on real Chroma/HNSW and BM25 structures of the full size; dense *quality* is
  meaningless there (the vectors are random), only its cost is measured.
- `auto` (default): `embed` up to 10,000 papers, `vectors` above, plus a real embedding
  throughput sample (`--embed-sample`, default 1000) so the ingest rate is still measured.

Then: the first search of a new PaperIndex (reads every chunk from Chroma, builds BM25 and
caches it), the first search of another new PaperIndex (loads the cache), and warm search
latency p50/p95 for hybrid, dense and lexical. Target (issue 2): p50 < 100 ms at 100k chunks.

    .venv/bin/python benchmarks/scale.py --n 10000
    .venv/bin/python benchmarks/scale.py --n 100000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

if TYPE_CHECKING:
    from retrieval.index import SearchMode

from _common import (
    Stopwatch,
    SyntheticCorpus,
    machine_line,
    note,
    print_table,
    retrieval_config,
    run_cli,
    seed_queries,
    summary_ms,
    temp_home,
    verdict,
)

from retrieval.chunking import chunk_paper

P50_TARGET_MS = 100.0
EMBED_LIMIT = 10_000
WRITE_BATCH = 4_000  # below Chroma's max batch size
MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "lexical")


def _progress(label: str, every: int) -> Any:
    state = {"next": every}

    def report(done: int, total: int) -> None:
        if total and (done >= state["next"] or done == total):
            print(f"  {label}: {done:,}/{total:,}", file=sys.stderr, flush=True)
            while state["next"] <= done:
                state["next"] += every

    return report


def write_vectors(index: Any, papers: list[Any], seed: int = 7) -> int:
    """The real ingest path (`PaperIndex.ingest_papers`: journal, diff, Chroma upsert, the
    SQLite records and BM25 index of the revision) with PRECOMPUTED random unit vectors in
    place of the embedding model, in write batches of WRITE_BATCH chunks."""
    import numpy as np

    import retrieval.store

    rng = np.random.default_rng(seed)

    def precomputed(docs: list[str]) -> list[Any]:
        vectors = rng.standard_normal((len(docs), 384), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return list(vectors)

    index.store.embed_documents = precomputed
    retrieval.store.BATCH = WRITE_BATCH
    report = index.ingest_papers(
        papers, progress=_progress("written", max(WRITE_BATCH, len(papers) // 10))
    )
    return int(report.chunks_written)


def home_breakdown(home: Path) -> dict[str, float]:
    """Bytes on disk by part of RA_HOME: the Chroma store, the search states, the rest."""
    parts = {"chroma": 0.0, "search state (SQLite records + BM25)": 0.0, "other": 0.0}
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(home).parts
        key = "chroma" if rel[0] == "chroma" else "other"
        if rel[0] == "cache":
            key = "search state (SQLite records + BM25)"
        parts[key] += path.stat().st_size
    return parts


def one_shot(home: Path, query: str, runs: int = 3) -> float:
    """Median wall seconds of `ra search QUERY --json` as a new process."""
    times = []
    for _ in range(runs):
        run = run_cli(["search", query, "--json"], home)
        if run.returncode != 0:
            raise RuntimeError(run.stderr)
        times.append(run.seconds)
    return sorted(times)[len(times) // 2]


def home_size_mb(home: Path) -> float:
    return sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="synthetic papers (= chunks)")
    parser.add_argument("--write", choices=["auto", "embed", "vectors"], default="auto")
    parser.add_argument("--embed-sample", type=int, default=1000, help="auto/vectors mode")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)

    from retrieval.index import PaperIndex

    write = args.write
    if write == "auto":
        write = "embed" if args.n <= EMBED_LIMIT else "vectors"
    note(machine_line(f"scale: {args.n:,} synthetic papers, write mode {write}"))

    corpus = SyntheticCorpus()
    with Stopwatch() as gen:
        papers = corpus.papers(args.n)
    multi = sum(1 for p in papers[:2000] if len(chunk_paper(p)) != 1)
    if multi:
        note(f"  warning: {multi} of the first 2000 synthetic papers chunk to more than one chunk")
    queries = seed_queries(args.queries)
    rows: list[list[Any]] = [["generate papers", gen.wall, gen.cpu, "", ""]]

    with temp_home() as home:
        # The app's own collection, so `ra search` in a new process searches it too.
        config = retrieval_config(home)
        index = PaperIndex(config)
        index.store.ef(["load the model before timing"])

        sample_rate = None
        if write == "vectors" and args.embed_sample:
            # Real embedding ingest throughput on a sample, in a separate collection.
            sample_index = PaperIndex(retrieval_config(home / "sample"))
            with Stopwatch() as sw:
                sample_index.ingest_papers(
                    papers[: args.embed_sample],
                    progress=_progress("embedded (sample)", max(100, args.embed_sample // 5)),
                )
            sample_rate = args.embed_sample / sw.wall
            rows.append(
                [f"ingest_papers, real embeddings, {args.embed_sample:,} sample", sw.wall,
                 sw.cpu, f"{sample_rate:.1f} chunks/s", ""]
            )  # fmt: skip

        if write == "embed":
            with Stopwatch() as sw:
                report = index.ingest_papers(
                    papers, progress=_progress("embedded", max(500, args.n // 10))
                )
            rows.append(
                [f"ingest_papers, {report.chunks_written:,} chunks embedded", sw.wall, sw.cpu,
                 f"{report.chunks_written / sw.wall:.1f} chunks/s", ""]
            )  # fmt: skip
        else:
            with Stopwatch() as sw:
                n_chunks = write_vectors(index, papers)
            rows.append(
                [f"write {n_chunks:,} chunks, PRECOMPUTED random vectors", sw.wall, sw.cpu,
                 f"{n_chunks / sw.wall:,.0f} chunks/s", ""]
            )  # fmt: skip

        if (home / "sample").exists():
            import shutil

            shutil.rmtree(home / "sample")
        first = PaperIndex(config)
        with Stopwatch() as sw:
            first.search("first search after the ingest")
        rows.append(
            ["first search after the ingest, new PaperIndex (opens its state)", sw.wall,
             sw.cpu, "", ""]
        )  # fmt: skip
        second = PaperIndex(config)
        with Stopwatch() as sw:
            second.search("first search of another PaperIndex")
        rows.append(["first search, another PaperIndex", sw.wall, sw.cpu, "", ""])
        count = second.count()
        size = home_size_mb(home)
        parts = home_breakdown(home)
        query = queries[0]
        large = one_shot(home, query)
        with temp_home() as seeds_home:
            if run_cli(["ingest"], seeds_home).returncode != 0:
                raise RuntimeError("seed ingest failed")
            small = one_shot(seeds_home, query)
        rows.append([f"one-shot `ra search` (new process), {count:,} papers", large, "", "", ""])
        rows.append(["one-shot `ra search` (new process), 51 seed papers", small, "", "", ""])
        note(
            f"one-shot ratio {count:,} / seeds: {large / small:.2f}x; disk "
            f"{size * 1e6 / max(count, 1):,.0f} bytes/paper ("
            + ", ".join(f"{k} {v / max(count, 1):,.0f}" for k, v in parts.items())
            + ")"
        )
        print_table(
            ["step", "wall s", "cpu s", "rate", ""],
            rows,
            f"Scale: ingest, {count:,} papers ({size:,.0f} MB on disk)",
        )
        if write == "vectors":
            note(
                "NOTE: the main collection was written with PRECOMPUTED RANDOM unit vectors "
                "(not MiniLM embeddings): ingest time above is Chroma write time only; the "
                "real embedding rate is the sample row."
            )
            if sample_rate:
                minutes = args.n / sample_rate / 60
                span = f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min"
                note(f"At that rate, embedding all {args.n:,} chunks would take {span}")

        for q in queries[:5]:
            second.search(q)
        lat_rows = []
        for mode in MODES:
            times = []
            for q in queries:
                with Stopwatch() as sw:
                    second.search(q, k=5, mode=mode)
                times.append(sw.wall)
            s = summary_ms(times)
            target = verdict(s["p50"], P50_TARGET_MS) if mode == "hybrid" else ""
            lat_rows.append([mode, len(times), s["p50"], s["p95"], s["mean"], s["max"], target])
        print_table(
            ["mode", "queries", "p50 ms", "p95 ms", "mean ms", "max ms", "p50 < 100 ms"],
            lat_rows,
            f"Scale: warm search latency at {count:,} chunks (k=5)",
        )
        if write == "vectors":
            note("(dense/hybrid ranked random vectors here: cost is real, relevance is not)")


if __name__ == "__main__":
    main()
