"""Seed ingest time: cold (fresh RA_HOME) and re-ingest when nothing changed.

Measured two ways: in-process (`PaperIndex.ingest()`, the interpreter and imports already
warm) and end to end (`ra ingest` as a subprocess, process start to exit, which is what a
user waits for). Targets (issue 2): < 5 s cold, < 1 s when nothing changed.

    .venv/bin/python benchmarks/ingest_speed.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import note, print_table, retrieval_config, run_cli, temp_home, timed, verdict

COLD_TARGET_S = 5.0
WARM_TARGET_S = 1.0


def in_process(runs: int) -> tuple[list[float], list[float], list[float], int, int]:
    """Cold ingest, re-ingest on the same object, re-ingest on a new object (seconds)."""
    from retrieval.index import PaperIndex

    cold, warm_same, warm_new = [], [], []
    papers = chunks = 0
    for _ in range(runs):
        with temp_home() as home:
            index = PaperIndex(retrieval_config(home))
            report, seconds = timed(index.ingest)
            cold.append(seconds)
            papers, chunks = report.papers, report.chunks_written
            again, seconds = timed(index.ingest)
            warm_same.append(seconds)
            if not again.nothing_changed:
                note("  note: the second ingest on the same object did not report nothing_changed")
            fresh = PaperIndex(retrieval_config(home))
            again, seconds = timed(fresh.ingest)
            warm_new.append(seconds)
    return cold, warm_same, warm_new, papers, chunks


def end_to_end(runs: int) -> tuple[list[float], list[float]]:
    """`ra ingest` in a fresh home, then `ra ingest` again (seconds, wall clock)."""
    cold, warm = [], []
    for _ in range(runs):
        with temp_home() as home:
            first = run_cli(["ingest"], home)
            if first.returncode != 0:
                note(f"  `ra ingest` exited {first.returncode}: {first.stderr.strip()[-400:]}")
            cold.append(first.seconds)
            for _ in range(2):
                again = run_cli(["ingest"], home)
                if again.returncode != 0:
                    note(f"  `ra ingest` (again) exited {again.returncode}")
                warm.append(again.seconds)
    return cold, warm


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh homes per measurement")
    args = parser.parse_args(argv)

    load = os.getloadavg()[0]
    note(f"ingest speed: seeds, {args.runs} run(s) each, {os.cpu_count()} CPUs, load {load:.2f}")

    # The first in-process ingest also pays for imports and loading the model weights; it
    # is reported separately from the later (model already loaded) cold ingests.
    cold, warm_same, warm_new, papers, chunks = in_process(args.runs)
    cli_cold, cli_warm = end_to_end(args.runs)

    med = statistics.median
    later_cold = med(cold[1:]) if len(cold) > 1 else cold[0]
    rows = [
        ["in-process cold, 1st (imports + model load)", cold[0], "", ""],
        ["in-process cold, later runs (median)", later_cold, "", ""],
        ["in-process re-ingest, same PaperIndex (median)", med(warm_same), "", ""],
        ["in-process re-ingest, new PaperIndex (median)", med(warm_new), "", ""],
        ["`ra ingest` cold, end to end (median)", med(cli_cold), COLD_TARGET_S, ""],
        ["`ra ingest` cold, end to end (min)", min(cli_cold), "", ""],
        ["`ra ingest` unchanged, end to end (median)", med(cli_warm), WARM_TARGET_S, ""],
        ["`ra ingest` unchanged, end to end (min)", min(cli_warm), "", ""],
    ]
    rows[4][3] = verdict(med(cli_cold), COLD_TARGET_S)
    rows[6][3] = verdict(med(cli_warm), WARM_TARGET_S)
    print_table(["measurement", "seconds", "target s", "target"], rows, "Seed ingest")
    note(f"\n{papers} papers, {chunks} chunks written per cold ingest")
    if chunks and len(cold) > 1:
        note(f"cold in-process throughput: {chunks / med(cold[1:]):.1f} chunks/s")


if __name__ == "__main__":
    main()
