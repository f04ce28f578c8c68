"""`ra chat`: open the Textual chat UI (Textual is imported only here, when it runs)."""

from __future__ import annotations

import argparse
import sys

from shells.commands.common import fail, settings_from_args


def run_chat(args: argparse.Namespace) -> int:
    """Run the chat UI until the user quits; 1 when it cannot start."""
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        return fail("`ra chat` needs a terminal; use `ra ask` in scripts")
    settings = settings_from_args(args)
    from shells.tui.app import ResearchApp

    ResearchApp(settings).run()
    return 0
