"""Search latency on the seeds: warm in-process p50/p95 over 200 distinct queries per mode,
then end to end: one-shot `ra search "multi-turn jailbreak" --json` and `ra --help`.

Targets (issue 2): p50 < 30 ms warm on the seeds; one-shot `ra search` < 2 s end to end;
`ra --help` < 0.3 s.

    .venv/bin/python benchmarks/search_latency.py [--queries 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

if TYPE_CHECKING:
    from retrieval.index import SearchMode

from _common import (
    Stopwatch,
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

P50_TARGET_MS = 30.0
ONE_SHOT_TARGET_S = 2.0
HELP_TARGET_S = 0.3
ONE_SHOT_QUERY = "multi-turn jailbreak"
X_TEAMING = "2504.13203"
MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "lexical")


def warm_latencies(
    home: Path, queries: list[str]
) -> tuple[Stopwatch, dict[str, tuple[list[float], list[float]]]]:
    """First search of a new PaperIndex (model + state load), then each query per mode:
    {mode: (wall seconds, cpu seconds)}."""
    from retrieval.index import PaperIndex

    index = PaperIndex(retrieval_config(home))
    with Stopwatch() as first:
        index.search("warm up the model and the search state")
    for q in queries[:5]:  # a few more so caches, allocators and mapped pages are warm
        index.search(q)
    results: dict[str, tuple[list[float], list[float]]] = {}
    for mode in MODES:
        wall, cpu = [], []
        for q in queries:
            with Stopwatch() as sw:
                index.search(q, k=5, mode=mode)
            wall.append(sw.wall)
            cpu.append(sw.cpu)
        results[mode] = (wall, cpu)
    return first, results


def x_teaming_rank(stdout: str) -> Any:
    try:
        hits = json.loads(stdout)
    except ValueError:
        return "bad JSON"
    ids = [h.get("paper_id") for h in hits]
    return ids.index(X_TEAMING) + 1 if X_TEAMING in ids else "not in top k"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="end-to-end runs per command")
    args = parser.parse_args(argv)

    note(machine_line("search latency: seeds"))
    queries = seed_queries(args.queries)
    with temp_home() as home:
        ingest = run_cli(["ingest", "--no-progress"], home)
        if ingest.returncode != 0:
            note(f"`ra ingest` failed ({ingest.returncode}): {ingest.stderr.strip()[-400:]}")
            return
        # The ingest wrote the search state; the first search only opens it (no rebuild).
        first_cli = run_cli(["search", ONE_SHOT_QUERY, "--json"], home)

        first, warm = warm_latencies(home, queries)
        rows = []
        for mode in MODES:
            s = summary_ms(warm[mode][0])
            cpu = summary_ms(warm[mode][1])
            target = verdict(s["p50"], P50_TARGET_MS) if mode == "hybrid" else ""
            rows.append(
                [mode, len(warm[mode][0]), s["p50"], s["p95"], s["max"], cpu["p50"], target]
            )
        print_table(
            ["mode", "queries", "p50 ms", "p95 ms", "max ms", "cpu p50 ms", "p50 < 30 ms"],
            rows,
            "Warm in-process search on the seeds (k=5)",
        )
        note(
            f"\nfirst search of a new PaperIndex (model + state load): "
            f"{first.wall * 1000:.0f} ms wall, {first.cpu * 1000:.0f} ms cpu"
        )

        one_shot = [run_cli(["search", ONE_SHOT_QUERY, "--json"], home) for _ in range(args.runs)]
        helps = [run_cli(["--help"], home) for _ in range(args.runs)]
        failed = [r for r in one_shot + helps if r.returncode != 0]
        for r in failed[:3]:
            note(f"command failed ({r.returncode}): {r.stderr.strip()[-300:]}")

        med = statistics.median
        first_row = [f"`ra search {ONE_SHOT_QUERY!r} --json`, first after ingest"]
        rows = [[*first_row, first_cli.seconds, "", "", first_cli.cpu, ""]]
        for label, runs, limit in (
            (f"`ra search {ONE_SHOT_QUERY!r} --json`", one_shot, ONE_SHOT_TARGET_S),
            ("`ra --help`", helps, HELP_TARGET_S),
        ):
            wall = [r.seconds for r in runs]
            rows.append(
                [
                    label,
                    med(wall),
                    min(wall),
                    max(wall),
                    med(r.cpu for r in runs),
                    f"{verdict(med(wall), limit)} (< {limit:g} s)",
                ]
            )
        print_table(
            ["command (end to end)", "median s", "min s", "max s", "cpu s", "target"],
            rows,
            f"One-shot CLI, {args.runs} runs each",
        )
        rank = x_teaming_rank(one_shot[-1].stdout)
        note(f"\nX-Teaming ({X_TEAMING}) rank in `ra search`: {rank}")


if __name__ == "__main__":
    main()
