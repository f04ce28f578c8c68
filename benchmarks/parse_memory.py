"""Peak RSS of streaming a large JSONL through the parsers, and of merging its records.

Usage: python benchmarks/parse_memory.py [--mb 50] [--stage parse|merge]

Generates a JSONL of about `--mb` MB (synthetic abstracts from the seeds' vocabulary, 1 in
50 records repeated as a rewritten version under the same arXiv id, so merging has work to
do), then, in a fresh subprocess per stage, parses it with `retrieval.parsers.iter_parse`
(records counted, not kept: what a batched ingest holds) and, for `merge`, keeps the
papers and runs `retrieval.merge.merge_records` over all of them. Prints records, seconds
and the peak RSS (`resource.getrusage`, the process's high-water mark).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def generate(path: Path, megabytes: float) -> int:
    from benchmarks._common import SyntheticCorpus

    corpus = SyntheticCorpus()
    rng = random.Random(7)
    target = int(megabytes * 1_000_000)
    n = 0
    with path.open("w") as out:
        while out.tell() < target:
            abstract = corpus.abstract(rng, (5, 7))
            record = {
                "title": corpus.abstract(rng, (1, 1))[:90],
                "arxiv_id": f"{2000 + n // 90000:04d}.{n % 90000 + 10000:05d}",
                "authors": ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
                "year": 2020,
                "abstract": abstract,
            }
            out.write(json.dumps(record) + "\n")
            n += 1
            if n % 50 == 0:  # a rewritten version of the same paper (same id)
                record["abstract"] = abstract.replace(" the ", " a ", 3) + " Code is released."
                record["title"] = ""
                out.write(json.dumps(record) + "\n")
                n += 1
    return n


def stage(path: Path, which: str) -> None:
    from retrieval.models import Paper
    from retrieval.parsers import iter_parse

    started = time.perf_counter()
    if which == "parse":
        papers = sum(1 for r in iter_parse(path) if isinstance(r, Paper))
        merged = conflicts = merges = 0
    else:
        from retrieval.merge import merge_records

        records = [r for r in iter_parse(path) if isinstance(r, Paper)]
        papers = len(records)
        result = merge_records(records)
        merged, merges, conflicts = len(result.papers), len(result.merges), len(result.conflicts)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "stage": which,
                "records": papers,
                "papers_after_merge": merged,
                "merges": merges,
                "conflicts": conflicts,
                "seconds": round(seconds, 1),
                "peak_rss_mb": round(peak_mb, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--stage", choices=("parse", "merge"))
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.stage:
        stage(args.file, args.stage)
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ra-parse-mem-") as tmp:
        path = Path(tmp) / "big.jsonl"
        n = generate(path, args.mb)
        print(f"generated {path.stat().st_size / 1e6:.1f} MB, {n} records")
        for which in ("parse", "merge"):
            cmd = [sys.executable, __file__, "--stage", which, "--file", str(path)]
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
