"""Ingest and search at scale: N synthetic abstracts in the app's collection of a temp home.

Each synthetic abstract chunks to exactly one chunk, so N papers = N chunks.

Writing modes (`--write`):
- `embed`: the real write path end to end (chunking, MiniLM embeddings, Chroma, search state).
- `vectors`: the same write path with PRECOMPUTED random unit vectors in place of the model,
  for sizes whose embedding would take too long on a small machine. Search cost is then
  measured on full-size structures; dense *relevance* is meaningless (random vectors).
- `auto` (default): `embed` up to 10,000 papers, `vectors` above, plus a real embedding
  throughput sample (`--embed-sample`, default 1000) so the ingest rate is still measured.

The ingest streams papers (`PaperDelta`) in a child process, whose peak RSS is reported. Then:
the first search of a new PaperIndex, one-shot `ra search` (new process: wall and peak RSS)
over N papers and over the 51 seeds, bytes per paper by component, the cost of adding
`--add` papers to the library, and warm latency p50/p95 per mode. `--recall N` embeds N
SciFact abstracts with MiniLM and reports the IVF quantizer's recall@10/50 against exact search.
`--server N` runs a `chroma run` server: the first search of a fresh client over N papers,
the same client in a new process, and after another client added `--add` papers.

    .venv/bin/python benchmarks/scale.py --n 10000 --write vectors
    .venv/bin/python benchmarks/scale.py --n 1000000     # precomputed vectors
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

if TYPE_CHECKING:
    from retrieval.index import PaperIndex, SearchMode

from _common import (
    REPO,
    Stopwatch,
    SyntheticCorpus,
    machine_line,
    note,
    print_table,
    retrieval_config,
    run_cli,
    run_cli_rss,
    seed_queries,
    summary_ms,
    temp_home,
    verdict,
)

P50_TARGET_MS = 50.0
EMBED_LIMIT = 10_000
MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "lexical")
# ../shared beside the checkout (a worktree under wt/ has it two levels up).
SCIFACT = next(
    (p for base in (REPO.parent, REPO.parent.parent)
     if (p := base / "shared" / "benchmarks" / "scifact" / "corpus.jsonl").is_file()),
    REPO.parent / "shared" / "benchmarks" / "scifact" / "corpus.jsonl",
)  # fmt: skip


def _precomputed(index: PaperIndex, seed: int) -> None:
    """Replace the embedding model with random unit vectors (deterministic per seed)."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def vectors(docs: list[str]) -> list[Any]:
        out = rng.standard_normal((len(docs), 384), dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return list(out)

    index.store.embed_documents = vectors  # type: ignore[method-assign]


def _big_batches() -> None:
    """Precomputed vectors: write 4,000 chunks per Chroma call (as the benchmark always did)."""
    import retrieval.store

    retrieval.store.BATCH = 4000
    try:
        import retrieval.ingest_write as iw

        iw.BATCH_CHUNKS = iw.STORE_BATCH = 4000  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        pass


def write(index: PaperIndex, papers: Any, *, replace_all: bool) -> Any:
    """The real write path, streaming `papers`; older code (no PaperDelta) gets a list."""
    try:
        from retrieval.ingest_write import PaperDelta, write_papers
    except ImportError:  # main before the segmented state: the whole collection each time
        return None
    from retrieval.ingest import Ingestor, signature
    from retrieval.ingest_report import IngestReport

    manifest = index.manifest_file.read()
    ingestor = Ingestor(index.config, index.store, index.manifest_file)
    files = dict(manifest.files) if manifest else {}
    journal = ingestor._begin(manifest, files, signature(index.config, index.store))
    report = IngestReport()
    listed = manifest.revision if manifest and manifest.complete else None
    delta = PaperDelta(upserts=papers, removed=(), replace_all=replace_all)
    write_papers(index.config, index.store, delta, report, journal, fresh=listed is None,
                 listed=listed)  # fmt: skip
    ingestor._finish(journal)
    return report


def ingest_child(home: str, n: int, mode: str) -> None:
    """(child process) Stream `n` synthetic papers into the home; print the report."""
    from retrieval.index import PaperIndex

    index = PaperIndex(retrieval_config(Path(home)))
    if mode == "vectors":
        _precomputed(index, 7)
        _big_batches()
    papers = SyntheticCorpus().iter_papers(n)
    report = write(index, papers, replace_all=True)
    if report is None:
        report = index.ingest_papers(list(papers))
    print(json.dumps({"chunks_written": report.chunks_written}))


def timed_child(args: list[str]) -> tuple[dict[str, Any], float, int]:
    """Run this script as a child: (its JSON output, wall seconds, peak RSS bytes)."""
    import os
    import time

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"child {args} failed")
    return json.loads(out), time.perf_counter() - start, usage.ru_maxrss * 1024


def home_breakdown(home: Path) -> dict[str, float]:
    """Bytes on disk by component of RA_HOME."""
    parts = {"chroma": 0.0, "records+chunks (SQLite)": 0.0, "BM25 postings": 0.0,
             "vectors": 0.0, "other": 0.0}  # fmt: skip
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(home).parts
        key = "other"
        if rel[0] == "chroma":
            key = "chroma"
        elif rel[0] == "cache":
            name = path.name
            if name.endswith((".sqlite3", ".sqlite3-journal")):
                key = "records+chunks (SQLite)"
            elif name.startswith(("post_", "doclen")):
                key = "BM25 postings"
            elif name.startswith(("vectors", "ivf_")):
                key = "vectors"
        parts[key] += path.stat().st_size
    return parts


def one_shot(home: Path, query: str, runs: int = 3) -> tuple[float, int]:
    """Median wall seconds and max peak RSS of `ra search QUERY --json` as a new process."""
    times, peaks = [], []
    for _ in range(runs):
        run, peak = run_cli_rss(["search", query, "--json"], home)
        if run.returncode != 0:
            raise RuntimeError(run.stderr)
        times.append(run.seconds)
        peaks.append(peak)
    return sorted(times)[len(times) // 2], max(peaks)


def recall(n: int) -> list[list[Any]]:
    """IVF recall@10/@50 vs exact on `n` real MiniLM vectors of SciFact abstracts."""
    import numpy as np

    from retrieval.dense import build_ivf, exact_top, ivf_top, n_lists, n_probe
    from retrieval.minilm import get_embedder

    docs = []
    with SCIFACT.open() as fh:
        for line in fh:
            row = json.loads(line)
            docs.append(f"{row.get('title', '')}\n{row.get('text', '')}")
            if len(docs) >= n:
                break
    embedder = get_embedder()
    vectors = embedder.embed(docs)
    queries = vectors[: min(200, len(vectors))] + 0.0
    rows = []
    with temp_home() as tmp:
        vectors.astype(np.float32).tofile(tmp / "raw.f32")
        build_ivf(tmp / "raw.f32", len(vectors), vectors.shape[1], tmp)
        arrays = {k: np.load(tmp / f"{k}.npy") for k in ("ivf_centroids", "ivf_indptr", "ivf_rows")}
        arrays["vectors"] = np.fromfile(tmp / "vectors.f32", np.float32).reshape(vectors.shape)
        lists = n_lists(len(vectors))
        for probe in sorted({n_probe(lists), max(1, lists // 32), lists // 4}):
            for k in (10, 50):
                hits = []
                for q in queries:
                    _, exact = exact_top(vectors, q, k + 1, None)
                    _, got = ivf_top(arrays.__getitem__, q, k + 1, None, probe=probe)
                    hits.append(len(set(exact[1:].tolist()) & set(got[1:].tolist())) / k)
                rows.append([f"{probe}/{lists} lists", k, f"{np.mean(hits):.3f}"])
    return rows


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """A `chroma run` server on a free loopback port (stopped afterwards)."""
    import shutil
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def server_rows(n: int, add: int) -> list[list[Any]]:
    """Shared server: client A writes `n` papers (precomputed vectors); the first search of a
    fresh client B (downloads and caches the collection), of B again in a new process, and
    of B after A added `add` papers (fetches only those)."""
    from assistant.config import load_settings
    from retrieval.index import PaperIndex

    rows: list[list[Any]] = []
    with temp_home() as tmp, chroma_server(tmp / "server") as url:

        def client(name: str) -> PaperIndex:
            return PaperIndex(load_settings(home=tmp / name, chroma_url=url).retrieval())

        writer = client("a")
        _precomputed(writer, 7)
        _big_batches()
        with Stopwatch() as sw:
            write(writer, SyntheticCorpus().iter_papers(n), replace_all=True)
        rows.append([f"server: client A writes {n:,} papers", sw.wall, sw.cpu])
        for label in ("fresh client B, first search (full download)",
                      "client B again, new PaperIndex (cache)"):  # fmt: skip
            with Stopwatch() as sw:
                client("b").search("first search of a client")
            rows.append([f"server: {label}", sw.wall, sw.cpu])
        adder = client("a")
        _precomputed(adder, 8)
        write(adder, SyntheticCorpus(seed=4321).iter_papers(add, prefix="add"), replace_all=False)
        with Stopwatch() as sw:
            client("b").search("first search after another client's add")
        rows.append([f"server: client B after A added {add} (incremental sync)", sw.wall, sw.cpu])
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="synthetic papers (= chunks)")
    parser.add_argument("--write", choices=["auto", "embed", "vectors"], default="auto")
    parser.add_argument("--embed-sample", type=int, default=1000, help="auto/vectors mode")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--add", type=int, default=100, help="papers added incrementally")
    parser.add_argument("--recall", type=int, default=0, help="SciFact abstracts (0: skip)")
    parser.add_argument("--server", type=int, default=0, help="papers for the server run")
    parser.add_argument("--ingest-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ingest_child:
        ingest_child(args.ingest_child[0], int(args.ingest_child[1]), args.ingest_child[2])
        return

    from retrieval.index import PaperIndex

    mode = args.write
    if mode == "auto":
        mode = "embed" if args.n <= EMBED_LIMIT else "vectors"
    note(machine_line(f"scale: {args.n:,} synthetic papers, write mode {mode}"))
    if mode == "vectors":
        note("NOTE: PRECOMPUTED random unit vectors (not MiniLM): dense relevance is not real")
    queries = seed_queries(args.queries)
    rows: list[list[Any]] = []
    with temp_home() as home:
        config = retrieval_config(home)
        if mode == "vectors" and args.embed_sample:
            sample = PaperIndex(retrieval_config(home / "sample"))
            with Stopwatch() as sw:
                sample.ingest_papers(SyntheticCorpus().papers(args.embed_sample))
            rate = args.embed_sample / sw.wall
            rows.append([f"real embeddings, {args.embed_sample:,} sample", sw.wall, sw.cpu,
                         f"{rate:.1f} chunks/s", ""])  # fmt: skip
            import shutil

            shutil.rmtree(home / "sample")
        out, wall, peak = timed_child(["--ingest-child", str(home), str(args.n), mode])
        rate = f"{args.n / wall:,.0f} papers/s"
        rows.append([f"ingest {out['chunks_written']:,} chunks ({mode}), child process", wall,
                     "", rate, f"peak RSS {peak / 1e6:,.0f} MB"])  # fmt: skip
        first = PaperIndex(config)
        with Stopwatch() as sw:
            first.search("first search after the ingest")
        rows.append(["first search after the ingest, new PaperIndex", sw.wall, sw.cpu, "", ""])
        count = first.count()
        parts = home_breakdown(home)
        size = sum(parts.values())
        large, large_rss = one_shot(home, queries[0])
        with temp_home() as seeds_home:
            if run_cli(["ingest"], seeds_home).returncode != 0:
                raise RuntimeError("seed ingest failed")
            small, small_rss = one_shot(seeds_home, queries[0])
        rows.append([f"one-shot `ra search`, {count:,} papers", large, "", "",
                     f"peak RSS {large_rss / 1e6:,.0f} MB"])  # fmt: skip
        rows.append(["one-shot `ra search`, 51 seed papers", small, "", "",
                     f"peak RSS {small_rss / 1e6:,.0f} MB"])  # fmt: skip

        adder = PaperIndex(config)
        if mode == "vectors":
            _precomputed(adder, 8)
        extra = list(SyntheticCorpus(seed=4321).iter_papers(args.add, prefix="add"))
        with Stopwatch() as sw:
            if write(adder, iter(extra), replace_all=False) is None:
                adder.ingest_papers(first.papers() + extra)
        rows.append([f"add {args.add} papers to the library ({mode})", sw.wall, sw.cpu, "", ""])
        after, _ = one_shot(home, queries[0], runs=1)
        rows.append(["one-shot `ra search` after the add", after, "", "", ""])
        note(f"one-shot ratio {count:,} / seeds: {large / small:.2f}x")
        note(f"disk {size / max(count, 1):,.0f} bytes/paper: " + ", ".join(
            f"{k} {v / max(count, 1):,.0f}" for k, v in parts.items()))  # fmt: skip
        print_table(["step", "wall s", "cpu s", "rate", ""], rows,
                    f"Scale: {count:,} papers ({size / 1e6:,.0f} MB on disk)")  # fmt: skip

        warm = PaperIndex(config)
        # A long-lived process (the chat) warms up as this does: at 50k+ chunks that builds the
        # ONNX Runtime query encoder.
        warm.warm_up()
        # Warm means every query's pages were mapped once: a first pass over the queries (each
        # touches an eighth of the IVF lists) costs page faults a long-lived process pays once.
        for q in queries:
            warm.search(q)
        lat_rows = []
        for search_mode in MODES:
            times = []
            for q in queries:
                with Stopwatch() as sw:
                    warm.search(q, k=5, mode=search_mode)
                times.append(sw.wall)
            s = summary_ms(times)
            target = verdict(s["p50"], P50_TARGET_MS) if search_mode == "hybrid" else ""
            lat_rows.append([search_mode, len(times), s["p50"], s["p95"], s["mean"], s["max"],
                             target])  # fmt: skip
        print_table(["mode", "queries", "p50 ms", "p95 ms", "mean ms", "max ms", "p50 < 50 ms"],
                    lat_rows, f"Scale: warm search latency at {count:,} chunks (k=5)")  # fmt: skip
        note(f"(peak RSS of this process: "
             f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:,.0f} MB)")  # fmt: skip
    if args.server:
        print_table(["step", "wall s", "cpu s"], server_rows(args.server, args.add),
                    f"Shared Chroma server, {args.server:,} papers")  # fmt: skip
    if args.recall:
        print_table(["probed", "k", "recall vs exact"], recall(args.recall),
                    f"IVF recall on {args.recall:,} real MiniLM vectors (SciFact abstracts; "
                    "each query is an abstract, itself excluded)")  # fmt: skip


if __name__ == "__main__":
    main()
