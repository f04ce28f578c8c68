"""`ra`: the command line. Thin: parses flags and hands off to `shells.commands.*`.

Only argparse (and the two small error modules) are imported here so that `ra --help`
stays fast; each command imports what it needs when it runs. `main` is the one error
boundary: an expected failure of any layer is one line on stderr (exit 1, or 2 for a
usage error), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from assistant.errors import AssistantError
from retrieval.errors import RetrievalError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _year_range(value: str) -> tuple[int | None, int | None]:
    """`2024`, `2024..2025`, `2024..` or `..2025`."""
    try:
        if ".." in value:
            lo_text, hi_text = value.split("..", 1)
            lo, hi = (int(lo_text) if lo_text else None, int(hi_text) if hi_text else None)
        else:
            lo = hi = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad year range {value!r}: use 2024, 2024..2025, 2024.. or ..2025"
        ) from None
    if lo is not None and hi is not None and lo > hi:
        raise argparse.ArgumentTypeError(f"the year range {value!r} is reversed: use {hi}..{lo}")
    return (lo, hi)


def _positive_int(value: str) -> int:
    """A whole number of at least 1 (`--k`, `--limit`, `--concurrency`)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {number})")
    return number


def _text(what: str) -> Callable[[str], str]:
    """A non-empty text argument (a query, a question, a paper reference)."""

    def check(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"the {what} is empty")
        return value

    return check


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (`ra: error: ...`) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"ra: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full `ra` argument parser."""
    parser = _Parser(
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
        "--reindex",
        action="store_true",
        help="rebuild the index from these files (default: the files already ingested); "
        "recovers a damaged store",
    )
    p.set_defaults(handler="retrieval_cmds:run_ingest")

    p = sub.add_parser("check", help="verify the index: store, manifest and search state agree")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="check_cmd:run_check")

    p = sub.add_parser("papers", help="list the papers in the index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="retrieval_cmds:run_papers")

    p = sub.add_parser("search", help="hybrid search, one hit per paper")
    p.add_argument("query", type=_text("query"))
    p.add_argument("--k", type=_positive_int, default=5, help="number of papers (default 5)")
    p.add_argument("--year", type=_year_range, help="year or range: 2024..2025")
    p.add_argument("--author", help="author name (substring, case-insensitive)")
    p.add_argument(
        "--mode", choices=["hybrid", "dense", "lexical"], default="hybrid", help="retriever"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="retrieval_cmds:run_search")

    p = sub.add_parser("ask", help="a grounded, cited answer")
    p.add_argument("question", type=_text("question"))
    p.add_argument("--model", help="model name, or 'offline'")
    p.add_argument("--conversation", help="continue this conversation id")
    p.add_argument("--k", type=_positive_int, help="papers given to the model")
    p.add_argument(
        "--save", action="store_true", help="keep it in history (implied by --conversation)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="ask_cmds:run_ask")

    p = sub.add_parser("summarize", help="summarize a paper (id, arXiv id or title fragment)")
    p.add_argument(
        "paper",
        type=_text("paper reference"),
        help="paper id, arXiv id, title fragment, or a topic with --topic",
    )
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
    p.set_defaults(handler="history_cmd:run_history")

    p = sub.add_parser("eval", help="run the eval harness")
    p.add_argument("dataset", nargs="?", help="JSONL dataset (default: the seed set)")
    p.add_argument("--model", help="model name, or 'offline'")
    p.add_argument("--out", help="report directory")
    p.add_argument("--concurrency", type=_positive_int, default=1)
    p.add_argument("--baseline", help="a previous report.json to compare with")
    p.add_argument("--beir", help="a BEIR-format folder: retrieval benchmark")
    p.add_argument("--bm25-published", type=float, help="published BM25 nDCG@10 to show")
    p.add_argument("--limit", type=_positive_int, help="only the first N items")
    p.add_argument("--misbehave", help="offline model misbehaviour (for checks)")
    p.add_argument(
        "--judge",
        metavar="MODEL",
        help="LLM support judge: a model name or 'none' (default: the model when not offline)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="eval_cmd:run_eval")

    p = sub.add_parser("config", help="the effective settings and where each came from")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="config_cmd:run_config")

    p = sub.add_parser("chat", help="the terminal chat UI")
    p.add_argument("--model", help="model name, or 'offline'")
    p.set_defaults(handler="chat_cmd:run_chat")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ra` console script."""
    # pydantic looks for plugins in every installed package's metadata when it builds its
    # first model (~40 ms per command); `ra` uses none. PYDANTIC_DISABLE_PLUGINS= (empty)
    # in the environment turns the lookup back on.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    module_name, func_name = args.handler.split(":")
    try:
        module = importlib.import_module(f"shells.commands.{module_name}")
        code: int = getattr(module, func_name)(args)
    except KeyboardInterrupt:
        print("ra: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _stdout_closed()
    except (AssistantError, RetrievalError) as exc:
        return _fail(exc.display(), EXIT_USAGE if exc.kind == "usage" else EXIT_FAILURE)
    except OSError as exc:  # an environment fault the layers did not name (disk, permissions)
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", EXIT_FAILURE)
    return code


def _fail(message: str, code: int) -> int:
    with contextlib.suppress(OSError):
        print(f"ra: error: {message}", file=sys.stderr)
    return code


def _stdout_closed() -> int:
    """`ra ... | head`: the reader went away; end quietly (and keep Python's exit flush quiet)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
