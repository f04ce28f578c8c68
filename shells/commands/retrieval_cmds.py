"""`ra ingest`, `ra papers`, `ra search`."""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.hygiene import clean_display
from shells.commands.common import console as make_console
from shells.commands.common import notice, open_library, print_json

if TYPE_CHECKING:
    from retrieval.models import Paper

EXIT_SKIPPED = 2  # ingest finished but some records or files were skipped


def _progress_bar(enabled: bool) -> tuple[AbstractContextManager[Any], Any]:
    """A rich progress bar on a terminal (stderr), nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        return nullcontext(), None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("embedding chunks", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def run_ingest(args: argparse.Namespace) -> int:
    """Index files (default: the seeds); exit 2 when records or files were skipped."""
    assistant = open_library(args, seed=False)
    paths = [Path(p) for p in args.paths]
    bar, update = _progress_bar(not args.no_progress and not args.json)
    with bar:
        report = assistant.ingest(
            paths or None, progress=update, reindex=args.reindex, notice=notice
        )
    for problem in report.file_errors:
        print(f"ra: skipped file {problem}", file=sys.stderr)
    for issue in report.issues:
        print(f"ra: skipped record {issue}", file=sys.stderr)
    for conflict in report.conflicts:
        print(f"ra: {conflict}", file=sys.stderr)
    if args.json:
        data = report.model_dump(mode="json")
        data["ok"] = report.ok
        data["file_errors"] = report.file_errors
        print_json(data)
    elif report.nothing_changed:
        print(
            f"Index up to date: {report.papers} papers, nothing changed ({report.seconds:.2f} s)."
        )
    else:
        print(
            f"Indexed {report.papers} papers: {report.added} added, {report.updated} updated, "
            f"{report.removed} removed, {report.unchanged} unchanged; "
            f"{report.chunks_written} chunks written in {report.seconds:.2f} s."
        )
    if not report.ok:
        skipped = report.skipped_records + len(report.file_errors)
        print(
            f"ra: {skipped} record(s) or file(s) skipped; see the messages above", file=sys.stderr
        )
        return EXIT_SKIPPED
    return 0


def _authors(paper: Paper) -> str:
    from assistant.text import format_authors  # html and a dozen patterns: `ra papers` only

    return format_authors(paper.authors, truncated=paper.authors_truncated, limit=2)


def run_papers(args: argparse.Namespace) -> int:
    """List the papers in the index."""
    papers = open_library(args).papers()
    if args.json:
        print_json(papers)
        return 0
    from rich.table import Table

    console = make_console()
    id_width = max((len(p.paper_id) for p in papers), default=2)
    if console.width >= id_width + 45:
        # A table whose id column is never cut; the title and authors wrap.
        table = Table(box=None, pad_edge=False)
        table.add_column("id", no_wrap=True, min_width=id_width)
        table.add_column("year", no_wrap=True)
        table.add_column("title", ratio=3)
        table.add_column("authors", ratio=1)
        for paper in papers:
            table.add_row(
                paper.paper_id,
                str(paper.year or ""),
                clean_display(paper.title),
                clean_display(_authors(paper)),
            )
        console.print(table)
    else:
        # Too narrow for a table: the id on its own line, whole (the terminal wraps it).
        for paper in papers:
            console.print(paper.paper_id, style="bold", soft_wrap=True, highlight=False)
            year = f"{paper.year} · " if paper.year else ""
            line = f"  {year}{clean_display(paper.title)} · {clean_display(_authors(paper))}"
            console.print(line, highlight=False, markup=False)
    console.print(f"{len(papers)} papers")
    return 0


def run_search(args: argparse.Namespace) -> int:
    """Hybrid search, one hit per paper."""
    year_from, year_to = args.year or (None, None)
    hits = open_library(args).search(
        args.query,
        k=args.k,
        year_from=year_from,
        year_to=year_to,
        author=args.author,
        mode=args.mode,
    )
    if args.json:
        print_json([h.model_dump(mode="json", exclude={"matched_chunks"}) for h in hits])
        return 0
    if not hits:
        print("No papers match.")
        return 0
    for rank, hit in enumerate(hits, 1):
        ident = clean_display(f"arXiv:{hit.arxiv_id}" if hit.arxiv_id else hit.paper_id)
        # Corpus text never reaches the terminal raw (escape sequences, bidi overrides).
        title, authors = clean_display(hit.title), clean_display(", ".join(hit.authors[:3]))
        print(f"{rank}. {title} ({hit.year or 'n.d.'}) [{ident}]  score {hit.score:.4f}")
        print(f"   {authors}")
        print(f"   {clean_display(hit.snippet)}")
    return 0
