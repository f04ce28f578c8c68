"""Seed ingest time: cold (fresh RA_HOME) and re-ingest when nothing changed.

Measured two ways: in-process (`PaperIndex.ingest()`, the interpreter and imports already
warm) and end to end (`ra ingest` as a subprocess, process start to exit, which is what a
user waits for). Targets (issue 2): < 5 s cold, < 1 s when nothing changed.

`--incremental` instead times re-ingests of a library of `--records` synthetic records in 5
JSONL files (PRECOMPUTED random vectors, not the model): nothing changed, one small file
added, one of the 5 files changed (issue 8: cost proportional to what changed).

    .venv/bin/python benchmarks/ingest_speed.py [--runs 3]
    .venv/bin/python benchmarks/ingest_speed.py --incremental [--records 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Stopwatch,
    machine_line,
    note,
    print_table,
    retrieval_config,
    run_cli,
    temp_home,
    verdict,
)

COLD_TARGET_S = 5.0
WARM_TARGET_S = 1.0


Times = list[tuple[float, float]]  # (wall s, cpu s)


def in_process(runs: int) -> tuple[Times, Times, Times, int, int]:
    """Cold ingest, re-ingest on the same object, re-ingest on a new object."""
    from retrieval.index import PaperIndex

    cold: Times = []
    warm_same: Times = []
    warm_new: Times = []
    papers = chunks = 0
    for _ in range(runs):
        with temp_home() as home:
            index = PaperIndex(retrieval_config(home))
            with Stopwatch() as sw:
                report = index.ingest()
            cold.append((sw.wall, sw.cpu))
            papers, chunks = report.papers, report.chunks_written
            with Stopwatch() as sw:
                again = index.ingest()
            warm_same.append((sw.wall, sw.cpu))
            if not again.nothing_changed:
                note("  note: the second ingest on the same object did not report nothing_changed")
            fresh = PaperIndex(retrieval_config(home))
            with Stopwatch() as sw:
                fresh.ingest()
            warm_new.append((sw.wall, sw.cpu))
    return cold, warm_same, warm_new, papers, chunks


def end_to_end(runs: int) -> tuple[Times, Times]:
    """`ra ingest` in a fresh home, then `ra ingest` twice again."""
    cold: Times = []
    warm: Times = []
    for _ in range(runs):
        with temp_home() as home:
            first = run_cli(["ingest", "--no-progress"], home)
            if first.returncode != 0:
                note(f"  `ra ingest` exited {first.returncode}: {first.stderr.strip()[-400:]}")
            cold.append((first.seconds, first.cpu))
            for _ in range(2):
                again = run_cli(["ingest", "--no-progress"], home)
                if again.returncode != 0:
                    note(f"  `ra ingest` (again) exited {again.returncode}")
                warm.append((again.seconds, again.cpu))
    return cold, warm


def incremental(records: int) -> None:
    """Re-ingest times of a library of `records` records (vectors precomputed)."""
    import json
    import os
    import random

    import numpy as np
    from _common import SyntheticCorpus

    from retrieval.index import PaperIndex

    corpus, rng = SyntheticCorpus(), random.Random(3)

    def lines(n: int, start: int) -> str:
        out = []
        for k in range(start, start + n):
            rec = {"title": corpus.abstract(rng, (1, 1))[:90], "arxiv_id": f"2301.{10000 + k}",
                   "abstract": corpus.abstract(rng, (4, 6)), "year": 2023}  # fmt: skip
            out.append(json.dumps(rec))
        return "\n".join(out) + "\n"

    vec_rng = np.random.default_rng(7)

    def precomputed(docs: list[str]) -> list[object]:
        vectors = vec_rng.standard_normal((len(docs), 384), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return list(vectors)

    with temp_home() as home:
        files = [home / f"lib{n}.jsonl" for n in range(5)]
        for n, path in enumerate(files):
            path.write_text(lines(records // 5, n * (records // 5)))
        index = PaperIndex(retrieval_config(home))
        index.store.embed_documents = precomputed  # type: ignore[method-assign]
        rows: list[list[object]] = []
        for label, edit in (
            (f"first ingest, {records} records", None),
            ("nothing changed", None),
            ("one small file (5 records) added", "add"),
            ("one of 5 files changed (1 record edited)", "change"),
            ("nothing changed, files touched (mtime only)", "touch"),
        ):
            given = files
            if edit == "add":
                extra = home / "extra.jsonl"
                extra.write_text(lines(5, records + 1000))
                given = [*files, extra]
            elif edit == "change":
                text = files[2].read_text().splitlines()
                rec = json.loads(text[7])
                rec["abstract"] += " Code is released."
                text[7] = json.dumps(rec)
                files[2].write_text("\n".join(text) + "\n")
            elif edit == "touch":
                for path in files:
                    os.utime(path)
            with Stopwatch() as sw:
                report = index.ingest(given)
            rows.append([label, sw.wall, sw.cpu, report.papers, report.chunks_written])
        print_table(
            ["re-ingest", "wall s", "cpu s", "papers", "chunks written"],
            rows,
            "Incremental ingest (vectors PRECOMPUTED)",
        )
        note(f"load average {os.getloadavg()}")


def median_pair(times: Times) -> tuple[float, float]:
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh homes per measurement")
    parser.add_argument("--incremental", action="store_true", help="library re-ingest times")
    parser.add_argument("--records", type=int, default=10_000, help="with --incremental")
    args = parser.parse_args(argv)
    if args.incremental:
        note(machine_line(f"incremental ingest: {args.records} records"))
        incremental(args.records)
        return

    note(machine_line(f"ingest speed: seeds, {args.runs} run(s) each"))

    # The first in-process ingest also pays for imports and loading the model weights; it
    # is reported separately from the later (model already loaded) cold ingests.
    cold, warm_same, warm_new, papers, chunks = in_process(args.runs)
    cli_cold, cli_warm = end_to_end(args.runs)

    later = cold[1:] or cold
    rows: list[list[object]] = [
        ["in-process cold, 1st (imports + model load)", *cold[0], "", ""],
        ["in-process cold, later runs (median)", *median_pair(later), "", ""],
        ["in-process re-ingest, same PaperIndex (median)", *median_pair(warm_same), "", ""],
        ["in-process re-ingest, new PaperIndex (median)", *median_pair(warm_new), "", ""],
        ["`ra ingest` cold, end to end (median)", *median_pair(cli_cold), COLD_TARGET_S, ""],
        ["`ra ingest` cold, end to end (fastest)", *min(cli_cold), "", ""],
        ["`ra ingest` unchanged, end to end (median)", *median_pair(cli_warm), WARM_TARGET_S, ""],
        ["`ra ingest` unchanged, end to end (fastest)", *min(cli_warm), "", ""],
    ]
    rows[4][4] = verdict(median_pair(cli_cold)[0], COLD_TARGET_S)
    rows[6][4] = verdict(median_pair(cli_warm)[0], WARM_TARGET_S)
    print_table(["measurement", "wall s", "cpu s", "target s", "target"], rows, "Seed ingest")
    note(f"\n{papers} papers, {chunks} chunks written per cold ingest")
    if chunks:
        wall, cpu = median_pair(later)
        note(f"cold in-process: {chunks / wall:.1f} chunks/s wall, {chunks / cpu:.1f} chunks/cpu-s")


if __name__ == "__main__":
    main()
