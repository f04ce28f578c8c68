"""`ra`: the command line. Thin: parses flags and hands off to `shells.commands.*`.

Only argparse is imported here so that `ra --help` stays fast; each command imports
what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence


def _year_range(value: str) -> tuple[int | None, int | None]:
    """`2024`, `2024..2025`, `2024..` or `..2025`."""
    try:
        if ".." in value:
            lo, hi = value.split("..", 1)
            return (int(lo) if lo else None, int(hi) if hi else None)
        year = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad year range {value!r}: use 2024, 2024..2025, 2024.. or ..2025"
        ) from None
    return (year, year)


def build_parser() -> argparse.ArgumentParser:
    """The full `ra` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ra",
        description="Terminal research assistant: grounded, cited answers over your papers.",
    )
    parser.add_argument("--home", help="data directory (default: RA_HOME or the user data dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="index paper files (default: the shipped seeds)")
    p.add_argument("paths", nargs="*", help="files or folders: listing .txt, .jsonl, .bib")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--reindex", action="store_true", help="drop the index and rebuild it from these files"
    )
    p.set_defaults(handler="retrieval_cmds:run_ingest")

    p = sub.add_parser("papers", help="list the papers in the index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="retrieval_cmds:run_papers")

    p = sub.add_parser("search", help="hybrid search, one hit per paper")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5, help="number of papers (default 5)")
    p.add_argument("--year", type=_year_range, help="year or range: 2024..2025")
    p.add_argument("--author", help="author name (substring, case-insensitive)")
    p.add_argument(
        "--mode", choices=["hybrid", "dense", "lexical"], default="hybrid", help="retriever"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="retrieval_cmds:run_search")

    p = sub.add_parser("ask", help="a grounded, cited answer")
    p.add_argument("question")
    p.add_argument("--model", help="model name, or 'offline'")
    p.add_argument("--conversation", help="continue this conversation id")
    p.add_argument("--k", type=int, help="papers given to the model")
    p.add_argument(
        "--save", action="store_true", help="keep it in history (implied by --conversation)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="ask_cmds:run_ask")

    p = sub.add_parser("summarize", help="summarize a paper (id, arXiv id or title fragment)")
    p.add_argument("paper", help="paper id, arXiv id, title fragment, or a topic with --topic")
    p.add_argument("--topic", action="store_true", help="summarize a topic across papers")
    p.add_argument("--model", help="model name, or 'offline'")
    p.add_argument("--save", action="store_true", help="keep it in history")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="ask_cmds:run_summarize")

    p = sub.add_parser("history", help="list, show, export or delete saved conversations")
    p.add_argument(
        "action", nargs="?", default="list", choices=["list", "show", "export", "delete"]
    )
    p.add_argument("conversation", nargs="?", help="conversation id")
    p.add_argument("--out", help="export path (default: stdout)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="ask_cmds:run_history")

    p = sub.add_parser("eval", help="run the eval harness")
    p.add_argument("dataset", nargs="?", help="JSONL dataset (default: the seed set)")
    p.add_argument("--model", help="model name, or 'offline'")
    p.add_argument("--out", help="report directory")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--baseline", help="a previous report.json to compare with")
    p.add_argument("--beir", help="a BEIR-format folder: retrieval benchmark")
    p.add_argument("--bm25-published", type=float, help="published BM25 nDCG@10 to show")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--misbehave", help="offline model misbehaviour (for checks)")
    p.add_argument(
        "--judge",
        metavar="MODEL",
        help="LLM support judge: a model name or 'none' (default: the model when not offline)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="eval_cmd:run_eval")

    p = sub.add_parser("chat", help="the terminal chat UI")
    p.add_argument("--model", help="model name, or 'offline'")
    p.set_defaults(handler="chat_cmd:run_chat")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ra` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    module_name, func_name = args.handler.split(":")
    module = importlib.import_module(f"shells.commands.{module_name}")
    try:
        code: int = getattr(module, func_name)(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
