"""Helpers shared by the command modules: settings and the Assistant from flags, output.

Commands that ask no model open a `Library` (the index) or a `HistoryLibrary` (the index
and saved conversations): the chat models, prompt budget and citation checks are then never
imported by `ra papers`, `ra search` or `ra history`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from assistant.config import Settings, load_settings

if TYPE_CHECKING:
    from rich.console import Console

    from assistant.history_facade import HistoryLibrary
    from assistant.library import LibraryAPI
    from assistant.library_facade import Library
    from assistant.orchestrator import Assistant

    Opened = TypeVar("Opened", bound=LibraryAPI)


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings with the global flags (`--home`, `--model`) applied over env and file."""
    return load_settings(
        home=getattr(args, "home", None), model=getattr(args, "model", None), **extra
    )


def open_assistant(args: argparse.Namespace, *, seed: bool = True) -> Assistant:
    """The whole API (answers, summaries) for a command that asks a model; with `seed`, an
    empty index is filled with the seeds first."""
    from assistant.orchestrator import Assistant

    return _seeded(Assistant(settings_from_args(args)), seed)


def open_library(args: argparse.Namespace, *, seed: bool = True) -> Library:
    """The paper index, for a command that asks no model; with `seed`, an empty index is
    filled with the seeds first."""
    from assistant.library_facade import Library

    return _seeded(Library(settings_from_args(args)), seed)


def open_history(args: argparse.Namespace) -> HistoryLibrary:
    """Saved conversations (and the index, to name the papers they cite); never seeds."""
    from assistant.history_facade import HistoryLibrary

    return HistoryLibrary(settings_from_args(args))


def _seeded(opened: Opened, seed: bool) -> Opened:
    if seed:
        opened.ensure_index(notice=notice)
        status = opened.index_status()
        if status.message and status.state != "damaged":  # a damaged store fails the read
            notice(f"warning: {status.message}")
    return opened


def console() -> Console:
    """A rich console on stdout whose closed pipe ends the command like any other
    (`main` turns BrokenPipeError into a quiet exit 0; rich alone would exit 1)."""
    from rich.console import Console

    class _PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _PipeConsole()


def notice(message: str) -> None:
    """A progress or warning line on stderr (never on stdout, which carries the data)."""
    print(f"ra: {message}", file=sys.stderr)


def print_json(data: Any) -> None:
    """One JSON document on stdout."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def fail(message: str, code: int = 1) -> int:
    """Print `ra: error: message` on stderr and return the exit code."""
    print(f"ra: error: {message}", file=sys.stderr)
    return code
