"""`ra config`: the effective settings, where each came from, and what each means."""

from __future__ import annotations

import argparse

from shells.commands.common import print_json, settings_from_args


def run_config(args: argparse.Namespace) -> int:
    """Print every setting (secrets masked) with its source and description."""
    from assistant.config_report import settings_report

    rows = settings_report(settings_from_args(args))
    if args.json:
        print_json(rows)
        return 0
    width = max(len(row.name) for row in rows)
    for row in rows:
        value = row.value or "(unset)"
        print(f"{row.name:<{width}}  {value}  [{row.source}]")
        print(f"{'':<{width}}  {row.description}")
    return 0
