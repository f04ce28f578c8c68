"""`ra ask`, `ra summarize`: thin wrappers over `assistant.orchestrator`.

Answers stream to the terminal (or print as one JSON document with `--json`); errors
are one line on stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from typing import TYPE_CHECKING

from assistant.errors import TurnInterrupted
from assistant.turn import WAITING_FOR_MODEL
from shells.commands.common import fail, open_assistant, print_json

if TYPE_CHECKING:
    from assistant.answer import Answer

EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


def _sigterm_as_interrupt() -> None:
    """SIGTERM stops a turn like Ctrl-C: the partial answer is kept, printed (and saved)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        signal.signal(signal.SIGTERM, interrupt)


def _interrupted(answer: Answer, as_json: bool) -> int:
    """Print the partial answer of an interrupted turn; exit as interrupted."""
    if as_json:
        print_json(answer)
    else:
        _write("\n")
        _print_footer(answer)
    if answer.turn_id is not None:
        where = f"saved in history, marked incomplete (conversation {answer.conversation_id})"
    else:
        where = "not saved (pass --save to keep answers in history)"
    print(f"ra: interrupted; the partial answer is {where}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _finish(answer: Answer, as_json: bool) -> int:
    """Print the answer (JSON) or the footer after the streamed text; the exit code."""
    if as_json:
        print_json(answer)
    else:
        _write("\n")
        _print_footer(answer)
    if answer.incomplete and answer.finish_reason != "cancelled":
        return fail(answer.error or "the answer is incomplete", EXIT_INCOMPLETE)
    return 0


def _print_footer(answer: Answer) -> None:
    cited = {c.marker for c in answer.citations}
    lines: list[str] = []
    if cited:
        lines.append("\nSources:")
        for source in answer.sources:
            if source.number in cited:
                ident = f"arXiv:{source.arxiv_id}" if source.arxiv_id else source.paper_id
                year = f" ({source.year})" if source.year else ""
                lines.append(f"  [{source.number}] {source.title}{year}  {ident}")
    if answer.invalid_citations:
        bad = ", ".join(f"[{n}]" for n in answer.invalid_citations)
        lines.append(f"\nWarning: {bad} cite no source that was given to the model.")
    if answer.unsupported_citations:
        weak = ", ".join(f"[{n}]" for n in answer.unsupported_citations)
        lines.append(f"Note: {weak} share few words with the sentence citing them.")
    if lines:
        _write("\n".join(lines) + "\n")


def run_ask(args: argparse.Namespace) -> int:
    """`ra ask QUESTION`: a grounded, cited answer."""
    _sigterm_as_interrupt()
    try:
        assistant = open_assistant(args)
        answer = assistant.ask(
            args.question,
            conversation_id=args.conversation,
            k=args.k,
            on_delta=None if args.json else _write,
            on_status=_status,
            # One-shots stay out of history unless asked for (or continuing a conversation).
            save=args.save or bool(args.conversation),
        )
    except TurnInterrupted as exc:
        return _interrupted(exc.answer, args.json)
    return _finish(answer, args.json)


def _status(message: str) -> None:
    """Progress the user should see while waiting (a retry, a slow server): one stderr line."""
    if message == WAITING_FOR_MODEL:  # the streamed words show it
        return
    print(f"ra: {message}", file=sys.stderr, flush=True)


def run_summarize(args: argparse.Namespace) -> int:
    """`ra summarize PAPER` (or `--topic TOPIC`): a cited summary."""
    _sigterm_as_interrupt()
    try:
        assistant = open_assistant(args)
        summarize = assistant.summarize_topic if args.topic else assistant.summarize
        answer = summarize(
            args.paper, on_delta=None if args.json else _write, on_status=_status, save=args.save
        )
    except TurnInterrupted as exc:
        return _interrupted(exc.answer, args.json)
    return _finish(answer, args.json)
