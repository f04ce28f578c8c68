"""One-shot `ra ask` (no key: the offline model) over N synthetic papers.

Builds an N-paper home with PRECOMPUTED random vectors (as `scale.py --write vectors`), then
times end-to-end `ra ask --json` runs, each in a new process, with their peak RSS:
- the answer statistics `ra ingest` prepares (term weights and paper names per segment);
- a topical question, first after the ingest, and again;
- "who wrote <a title>?", "which papers were published in <year>?", "papers by <author>".

    .venv/bin/python benchmarks/ask_scale.py --n 100000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
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

_PREPARE = """
import sys
from pathlib import Path
from assistant.config import load_settings
from assistant.library_facade import Library
Library(load_settings(home=Path(sys.argv[1]), chroma_url=None)).collection_stats()
"""


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
        # what `ra ingest` does after writing: the new segments' answer statistics
        start = time.perf_counter()
        prep = subprocess.run(
            [sys.executable, "-c", _PREPARE, str(home)], capture_output=True, text=True, check=False
        )
        if prep.returncode != 0:
            raise SystemExit(f"preparing the answer statistics failed: {prep.stderr[-400:]}")
        print(
            f"answer statistics (as `ra ingest` prepares them): {time.perf_counter() - start:.1f} s"
        )
        questions = [
            ("topical, first after ingest", "How do the authors evaluate safety classifiers?"),
            ("topical, the same again", "How do the authors evaluate safety classifiers?"),
            ("topical, another question", "What results are reported for jailbreak attacks?"),
            ("who wrote <title>", f"Who wrote {sample.title}?"),
            ("list by year", "Which papers were published in 2016?"),
            ("list by author", f"Which papers are by {author}?"),
        ]
        commands = [(label, ["ask", question, "--json"]) for label, question in questions]
        commands.append(("ra summarize <title>", ["summarize", sample.title, "--json"]))
        rows = []
        for label, args in commands:
            run, rss = run_cli_rss(args, home)
            shown = ""
            if run.returncode == 0:
                data = json.loads(run.stdout)
                shown = f"{len(data.get('citations') or data.get('sources') or [])} sources"
            else:
                shown = f"exit {run.returncode}: {run.stderr.strip()[-80:]}"
            rows.append([label, f"{run.seconds:.2f} s", f"{rss / 2**20:,.0f} MB", shown])
        with temp_home() as seeds:
            run_cli_rss(["ingest"], seeds)
            run, rss = run_cli_rss(["ask", questions[0][1], "--json"], seeds)
            rows.append(["topical, over the 51 seeds", f"{run.seconds:.2f} s",
                         f"{rss / 2**20:,.0f} MB", f"exit {run.returncode}"])  # fmt: skip
        print_table(["one-shot command (new process)", "wall", "peak RSS", "result"], rows)


if __name__ == "__main__":
    main()
