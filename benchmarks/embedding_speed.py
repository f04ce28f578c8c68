"""Speed and size of the numpy MiniLM embedder: `python benchmarks/embedding_speed.py`.

Prints the import time of retrieval.embeddings (in a fresh interpreter), the model load time,
the latency of embedding one short query (p50/p95 over 100 queries), the throughput over the
seed abstracts, and the on-disk size of the model package and of the virtual environment.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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


def main() -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="throughput passes (best is kept)")
    args = parser.parse_args()

    print(f"import retrieval.embeddings: {import_time() * 1000:.0f} ms (fresh interpreter)")

    from retrieval.embeddings import MiniLMEmbedder, minilm_model_dir

    embedder = MiniLMEmbedder()
    t0 = time.perf_counter()
    embedder.load()
    print(f"model load (weights + tokenizer): {(time.perf_counter() - t0) * 1000:.0f} ms")

    embedder.embed(["warm up"])
    latencies = []
    for i in range(100):
        query = QUERIES[i % len(QUERIES)]
        t0 = time.perf_counter()
        embedder.embed([query])
        latencies.append((time.perf_counter() - t0) * 1000)
    print(
        f"query latency (1 short query, n=100): p50 {statistics.median(latencies):.2f} ms, "
        f"p95 {percentile(latencies, 95):.2f} ms"
    )

    abstracts = seed_abstracts()
    n_tokens = sum(len(ids) for ids in embedder.tokenize(abstracts))
    best = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        embedder.embed(abstracts)
        best = min(best, time.perf_counter() - t0)
    print(
        f"seed abstracts: {len(abstracts)} texts, {n_tokens / len(abstracts):.0f} word pieces "
        f"each on average (truncated at 256): {len(abstracts) / best:.1f} abstracts/s, "
        f"{n_tokens / best:.0f} tokens/s (best of {args.repeat})"
    )

    model_pkg = minilm_model_dir().parent
    print(f"model package on disk ({model_pkg.name}): {du(model_pkg)}")
    print(f"virtual environment ({sys.prefix}): {du(Path(sys.prefix))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
