"""One-shot `ra ask` (no key: the offline model) over N synthetic papers.

Builds an N-paper home with PRECOMPUTED random vectors (as `scale.py --write vectors`), then
times end-to-end `ra ask --json` runs, each in a new process, with their peak RSS:
- a topical question, first after the ingest (it builds the per-revision caches: the names
  table and the collection term weights) and again (reading them);
- "who wrote <a title>?", "which papers were published in <year>?", "papers by <author>".

    .venv/bin/python benchmarks/ask_scale.py --n 100000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SyntheticCorpus,
    machine_line,
    note,
    print_table,
    run_cli_rss,
    temp_home,
)
from scale import timed_child


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="synthetic papers")
    parser.add_argument("--home", type=Path, help="reuse a home built before (its caches cleared)")
    args = parser.parse_args(argv)
    print(machine_line(f"ask_scale: {args.n:,} synthetic papers"))
    note("PRECOMPUTED random unit vectors (not MiniLM): answers are timed, not judged")
    sample = next(iter(SyntheticCorpus().iter_papers(1)))
    author = sample.authors[0]
    with contextlib.ExitStack() as stack:
        if args.home:
            home = args.home
            shutil.rmtree(home / "cache" / "assistant", ignore_errors=True)
        else:
            home = stack.enter_context(temp_home())
            _, secs, rss = timed_child(["--ingest-child", str(home), str(args.n), "vectors"])
            print(f"ingest: {secs:.1f} s, peak {rss / 2**20:,.0f} MB")
        questions = [
            ("topical, first after ingest", "How do the authors evaluate safety classifiers?"),
            ("topical, again", "How do the authors evaluate safety classifiers?"),
            ("topical, another question", "What results are reported for jailbreak attacks?"),
            ("who wrote <title>", f"Who wrote {sample.title}?"),
            ("list by year", "Which papers were published in 2016?"),
            ("list by author", f"Which papers are by {author}?"),
        ]
        rows = []
        for label, question in questions:
            run, rss = run_cli_rss(["ask", question, "--json"], home)
            shown = ""
            if run.returncode == 0:
                data = json.loads(run.stdout)
                shown = f"{len(data.get('citations') or data.get('sources') or [])} sources"
            else:
                shown = f"exit {run.returncode}: {run.stderr.strip()[-80:]}"
            rows.append([label, f"{run.seconds:.2f} s", f"{rss / 2**20:,.0f} MB", shown])
        print_table(["ra ask (new process)", "wall", "peak RSS", "result"], rows)


if __name__ == "__main__":
    main()
