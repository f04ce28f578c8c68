"""`ra check`: do the store, the manifest and the search state agree? Exit 0 if so, else 1
with one line per problem."""

from __future__ import annotations

import argparse
import sys

from shells.commands.common import open_library, print_json

EXIT_PROBLEMS = 1


def run_check(args: argparse.Namespace) -> int:
    """Verify the index and report; never indexes anything."""
    report = open_library(args, seed=False).check_index()
    if args.json:
        print_json(report)
    elif report.ok:
        chunks = report.store_chunks or 0
        papers = report.store_papers or 0
        print(f"Index OK: {papers} papers, {chunks} chunks; store, manifest and search agree.")
    else:
        for problem in report.problems:
            print(f"ra: {problem}", file=sys.stderr)
    return 0 if report.ok else EXIT_PROBLEMS
