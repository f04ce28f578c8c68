"""Speed and size of the numpy MiniLM embedder: `python benchmarks/embedding_speed.py`.

Prints the import time of retrieval.embeddings (in a fresh interpreter), the model load time,
the latency of embedding one short query (p50/p95 over 100 queries), the throughput over the
seed abstracts and over SciFact abstracts (when `../shared/benchmarks/scifact` is there), and
the **float32 limit** of the model on this machine: the model's multiply-adds for the same
texts (linear layers and attention) divided by the float32 matrix-product speed measured
here on the same cores, i.e. the rate if nothing but the matrix products took time.
The load average (/proc/loadavg) is printed beside every figure: the machine is shared.

`--sweep` also tries batch token budgets and worker counts (what `MiniLMEmbedder` and
RA_EMBED_THREADS choose between).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCIFACT = REPO.parent / "shared" / "benchmarks" / "scifact"

QUERIES = [
    "multi-turn jailbreak",
    "red teaming language models with self-play",
    "retrieval augmented generation for question answering",
    "how do reward models get hacked",
    "long context evaluation benchmark",
    "code generation agents",
    "safety alignment of chat models",
    "chain of thought faithfulness",
    "mixture of experts routing",
    "tool use by LLM agents",
]


def convert_time() -> float:
    """Seconds to read model.safetensors and convert it (what the weight cache saves)."""
    from retrieval.minilm_model import minilm_model_dir
    from retrieval.minilm_weights import convert

    model_dir = minilm_model_dir()
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    convert(model_dir, config)
    return time.perf_counter() - t0


def load() -> str:
    """The 1-minute load average."""
    return Path("/proc/loadavg").read_text().split()[0]


def seed_abstracts() -> list[str]:
    """Paragraphs longer than 300 characters from the seed files (a crude split, no parser)."""
    texts: list[str] = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        # blank lines separate the profile listing's fields; arXiv ids close the other's abstracts
        for part in re.split(r"\n\s*\n|arXiv:\S+", raw):
            part = part.strip()
            if len(part) > 300:
                texts.append(part)
    return texts


def scifact_abstracts(root: Path, n: int) -> list[str]:
    """The first `n` SciFact documents as "title text" (whole abstracts, as BEIR embeds them)."""
    texts: list[str] = []
    with (root / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            texts.append(f"{doc.get('title', '')} {doc.get('text', '')}".strip())
            if len(texts) >= n:
                break
    return texts


def import_time() -> float:
    """Seconds to import retrieval.embeddings in a fresh interpreter (best of 5)."""
    code = (
        "import time; t=time.perf_counter(); import retrieval.embeddings; "
        "print(time.perf_counter()-t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(5)
    ]
    return min(runs)


def du(path: Path) -> str:
    """`du -sh` of a path."""
    out = subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True, check=False)
    return out.stdout.split()[0] if out.returncode == 0 else "?"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def model_flops(lengths: list[int], hidden: int = 384, inter: int = 1536, layers: int = 6) -> int:
    """Floating-point operations of the encoder for sequences of these lengths.

    Per token and layer: QKV, output, FFN up and down products (2 flops per multiply-add);
    per sequence and layer: scores (n x n x hidden) and their product with the values.
    """
    per_token = 2 * hidden * (3 * hidden + hidden + 2 * inter)
    return layers * sum(per_token * n + 4 * n * n * hidden for n in lengths)


def gemm_rate(workers: int, seconds: float = 3.0) -> float:
    """float32 matrix-product speed (flop/s) on `workers` threads, OpenBLAS single-threaded.

    The shapes are the encoder's biggest products (1,024 tokens x 384 x 1,536 and back), run
    the way `MiniLMEmbedder` runs them: one worker thread per core.
    """
    import numpy as np

    from retrieval.blas_threads import SINGLE_THREADED_BLAS, pool

    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 384), dtype=np.float32)
    w_up = rng.standard_normal((384, 1536), dtype=np.float32)
    w_down = rng.standard_normal((1536, 384), dtype=np.float32)
    flops_per_round = 2 * (2 * 1024 * 384 * 1536)

    def spin(_: int) -> int:
        rounds = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            (a @ w_up) @ w_down
            rounds += 1
        return rounds

    (a @ w_up) @ w_down  # warm up (thread start, first-touch of the outputs)
    with SINGLE_THREADED_BLAS:
        t0 = time.perf_counter()
        rounds = sum(pool(workers).map(spin, range(workers)))
        elapsed = time.perf_counter() - t0
    return rounds * flops_per_round / elapsed


def throughput(embedder: object, texts: list[str], repeat: int) -> float:
    """Best wall seconds over `repeat` passes of `embedder.embed(texts)`."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        embedder.embed(texts)  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - t0)
    return best


def report_corpus(name: str, embedder: object, texts: list[str], repeat: int, workers: int) -> None:
    """Print abstracts/s and tokens/s for `texts`, beside the float32 limit for them.

    The matrix-product speed and the embedding pass are measured in turn, `repeat` times, and
    the best of each is kept: on a shared machine both then see the same conditions.
    """
    lengths = [len(ids) for ids in embedder.tokenize(texts)]  # type: ignore[attr-defined]
    n_tokens = sum(lengths)
    best, rate = float("inf"), 0.0
    for _ in range(max(1, repeat)):
        rate = max(rate, gemm_rate(workers, seconds=1.5))
        best = min(best, throughput(embedder, texts, 1))
    limit = len(texts) / (model_flops(lengths) / rate)
    print(
        f"{name}: {len(texts)} texts, {n_tokens / len(texts):.0f} word pieces each on average "
        f"(truncated at 256): {len(texts) / best:.1f} abstracts/s, {n_tokens / best:.0f} "
        f"tokens/s (best of {repeat}, {workers} worker threads, load {load()}); float32 "
        f"products {rate / 1e9:.0f} GFLOP/s, so the model's float32 limit is {limit:.1f} "
        f"abstracts/s ({100 * len(texts) / best / limit:.0f}% of it)"
    )


def report_queries(label: str, embed: Callable[[str], object]) -> None:
    """p50/p95 of embedding one short query, 100 times."""
    latencies = []
    for i in range(100):
        query = QUERIES[i % len(QUERIES)]
        t0 = time.perf_counter()
        embed(query)
        latencies.append((time.perf_counter() - t0) * 1000)
    print(
        f"query latency, {label} (1 short query, n=100): p50 {statistics.median(latencies):.2f}"
        f" ms, p95 {percentile(latencies, 95):.2f} ms (load {load()})"
    )


def main() -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="throughput passes (best is kept)")
    parser.add_argument("--scifact", type=Path, default=SCIFACT, help="a BEIR SciFact folder")
    parser.add_argument("--scifact-n", type=int, default=256, help="SciFact documents to embed")
    parser.add_argument("--sweep", action="store_true", help="try token budgets and workers")
    args = parser.parse_args()

    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    print(f"cpus: {os.cpu_count()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"import retrieval.embeddings: {import_time() * 1000:.0f} ms (fresh interpreter)")

    import numpy  # noqa: F401 - libraries first: the timing below is the model's own load
    import tokenizers  # noqa: F401

    from retrieval.blas_threads import worker_count
    from retrieval.embeddings import MiniLMEmbedder, minilm_model_dir

    embedder = MiniLMEmbedder()
    t0 = time.perf_counter()
    embedder.load()
    print(
        f"model load (weights + tokenizer): {(time.perf_counter() - t0) * 1000:.0f} ms "
        "(weights mapped from the converted cache once it exists)"
    )
    print(f"  converting the weights without the cache: {convert_time() * 1000:.0f} ms")

    embedder.embed(["warm up"])
    report_queries("numpy", lambda q: embedder.embed([q]))
    t0 = time.perf_counter()
    if embedder.prepare_queries():
        print(f"ONNX Runtime query encoder built in {(time.perf_counter() - t0) * 1000:.0f} ms")
        report_queries("ONNX Runtime (long-lived processes, 50k+ chunks)", embedder.embed_query)

    workers = worker_count()
    corpora = [("seed abstracts", seed_abstracts())]
    if (args.scifact / "corpus.jsonl").is_file():
        name = f"SciFact abstracts (first {args.scifact_n})"
        corpora.append((name, scifact_abstracts(args.scifact, args.scifact_n)))
    for name, texts in corpora:
        embedder.embed(texts[:8])
        report_corpus(name, embedder, texts, args.repeat, workers)

    if args.sweep:
        texts = corpora[-1][1]
        for threads in sorted({1, workers}):
            os.environ["RA_EMBED_THREADS"] = str(threads)
            for budget in (512, 1024, 2048):
                candidate = MiniLMEmbedder(max_batch_tokens=budget, batch_size=64)
                best = throughput(candidate, texts, args.repeat)
                print(
                    f"  sweep: RA_EMBED_THREADS={threads} max_batch_tokens={budget}: "
                    f"{len(texts) / best:.1f} abstracts/s (load {load()})"
                )
        os.environ.pop("RA_EMBED_THREADS", None)

    model_pkg = minilm_model_dir().parent
    print(f"model package on disk ({model_pkg.name}): {du(model_pkg)}")
    print(f"virtual environment ({sys.prefix}): {du(Path(sys.prefix))}")
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
