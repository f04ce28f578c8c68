"""Run every benchmark, one after another, each in its own fresh interpreter.

    .venv/bin/python benchmarks/run_all.py            # scale at 10k only
    .venv/bin/python benchmarks/run_all.py --full     # also scale at 100k (precomputed vectors)
    .venv/bin/python benchmarks/run_all.py --quick    # smoke run: fewer runs, 2k vectors

Each script prints its own tables; this prints them in order with the time each took.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def plan(full: bool, quick: bool) -> list[list[str]]:
    runs = ["--runs", "1"] if quick else []
    steps = [
        ["retrieval_quality.py"],
        ["search_latency.py", *(["--runs", "3"] if quick else [])],
        ["ingest_speed.py", *runs],
        (
            ["scale.py", "--n", "2000", "--write", "vectors", "--embed-sample", "100"]
            if quick
            else ["scale.py", "--n", "10000"]
        ),
    ]
    if full:
        steps.append(["scale.py", "--n", "100000"])
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run scale.py --n 100000")
    parser.add_argument("--quick", action="store_true", help="smaller, faster smoke run")
    args = parser.parse_args(argv)

    failures = 0
    for step in plan(args.full, args.quick):
        print(f"\n# {' '.join(step)}\n", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / step[0]), *step[1:]])
        print(f"\n({step[0]} took {time.perf_counter() - start:.0f} s, exit {code})", flush=True)
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
