"""Start-up cost of the one-shot commands: `python benchmarks/startup.py [--runs 5] [--top 6]`.

For each one-shot command (`--help`, `config`, `history`, `papers`, `check`, `search`, `ask`
with the offline model) on the seeds: the median wall and CPU time of `--runs` runs, each a
new process, then the import time of each top-level package in that command (summed self
times from `python -X importtime`, the biggest `--top`), and the wall time with the chromadb
import taken out (the median minus chromadb's import time: what is left once the store is
off the read path). The load average is printed with the figures: the machine may be shared.

Python compiles every module it has no bytecode for on each start; the commands run with
bytecode written to (and read from) a cache folder in the temporary home, and each is run
once untimed first, so the figures are those of an installed `ra` whatever
PYTHONDONTWRITEBYTECODE says here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_line, note, print_table, ra_command, run_cli, temp_home

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("config",),
    ("history",),
    ("papers",),
    ("check",),
    ("search", "multi-turn jailbreak"),
    ("search", "multi-turn jailbreak", "--mode", "lexical"),
    ("ask", "What is multi-turn jailbreaking?"),
)


def import_costs(args: tuple[str, ...], home: Path) -> tuple[Counter[str], float]:
    """For `ra ARGS` under -X importtime: milliseconds of import time per top-level package
    (self times summed), and the milliseconds of chromadb's import with all it pulls in
    (the cumulative times of the chromadb modules that no other chromadb module imported)."""
    from _common import cli_env

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shells.cli", *args],
        env=cli_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    costs: Counter[str] = Counter()
    entries: list[tuple[int, str, float]] = []  # (depth, module, cumulative ms), post-order
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, cumulative_us, name = line.replace(":", "|", 1).split("|")
        module = name.strip()
        costs[module.split(".")[0]] += int(self_us) / 1000.0
        entries.append(((len(name) - len(name.lstrip())) // 2, module, int(cumulative_us) / 1000))
    chroma_ms = 0.0
    ancestors: list[tuple[int, str]] = []
    for depth, module, cumulative in reversed(entries):  # reversed post-order: parents first
        while ancestors and ancestors[-1][0] >= depth:
            ancestors.pop()
        is_chroma = module.startswith("chromadb")
        if is_chroma and not any(m.startswith("chromadb") for _, m in ancestors):
            chroma_ms += cumulative
        ancestors.append((depth, module))
    return costs, chroma_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="new processes per command")
    parser.add_argument("--top", type=int, default=6, help="packages listed per command")
    args = parser.parse_args(argv)

    print(machine_line("startup"))
    note(f"ra = {' '.join(ra_command())}")
    with temp_home() as home:
        # Children inherit this environment (see _common.cli_env): bytecode on, in the home.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
        seeded = run_cli(["papers"], home)  # indexes the shipped seeds (not timed)
        if seeded.returncode != 0:
            print(seeded.stderr, file=sys.stderr)
            return 1
        rows = []
        for command in COMMANDS:
            run_cli(list(command), home)  # writes the command's bytecode, warms the disk cache
            runs = [run_cli(list(command), home) for _ in range(args.runs)]
            failed = [r for r in runs if r.returncode != 0]
            if failed:
                print(f"ra {' '.join(command)} failed: {failed[0].stderr}", file=sys.stderr)
                return 1
            wall = statistics.median(r.seconds for r in runs)
            cpu = statistics.median(r.cpu for r in runs)
            costs, chroma_ms = import_costs(command, home)
            top = ", ".join(f"{name} {ms:.0f}" for name, ms in costs.most_common(args.top))
            rows.append(
                (
                    f"ra {' '.join(command)}",
                    wall,
                    cpu,
                    wall - chroma_ms / 1000.0,
                    sum(costs.values()),
                    top,
                )
            )
    one, five, _ = os.getloadavg()
    print_table(
        (
            "command",
            "wall s (median)",
            "cpu s",
            "wall s without chromadb import",
            "imports ms",
            "top imports (ms, -X importtime self times by package)",
        ),
        rows,
        title=f"One-shot commands, {args.runs} runs each, new process per run",
    )
    note(
        f"\nload average after the runs: {one:.2f} (1 min) / {five:.2f} (5 min). Import times "
        "are from one extra run under -X importtime (which adds its own overhead); 'without "
        "chromadb import' subtracts chromadb's cumulative import time, everything it pulls in "
        "included (an estimate: some of it, numpy or pydantic, the command imports anyway)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
