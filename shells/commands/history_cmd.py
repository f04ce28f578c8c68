"""`ra history`: list, show, export or delete saved conversations (no model, no search)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from shells.commands.common import fail, open_history, print_json


def run_history(args: argparse.Namespace) -> int:
    """`ra history [list|show|export|delete] [ID]`: saved conversations."""
    assistant = open_history(args)
    if args.action == "list":
        conversations = assistant.conversations()
        if args.json:
            print_json(conversations)
            return 0
        if not conversations:
            print("No saved conversations.")
        for c in conversations:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated_at))
            print(f"{c.id}  {when}  {c.turns:>3} turns  {c.title}")
        return 0
    if not args.conversation:
        return fail(f"`ra history {args.action}` needs a conversation id (see `ra history`)", 2)
    if args.action == "delete":
        assistant.delete_conversation(args.conversation)
        print(f"Deleted conversation {args.conversation}.")
        return 0
    if args.action == "show" and args.json:
        print_json(assistant.conversation(args.conversation))
        return 0
    markdown = assistant.export_markdown(args.conversation)
    if args.action == "export" and args.out:
        try:
            Path(args.out).write_text(markdown, encoding="utf-8")
        except OSError as exc:
            return fail(f"cannot write {args.out}: {exc.strerror}")
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(markdown)
    return 0
