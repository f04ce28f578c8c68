"""`ra eval`: run the eval harness (evals/) or the BEIR retrieval benchmark (`--beir`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shells.commands.common import fail, notice, open_assistant, print_json, settings_from_args

if TYPE_CHECKING:
    from assistant.config import Settings

EXIT_BAD_INPUT = 2
# The harness embeds one short query at a time, often from several threads: BLAS worker
# threads only add contention there (measured: ~0.03 s per query with one thread versus
# ~0.6 s with the default on a busy 2-CPU machine). Applies only if numpy is not loaded yet
# and the user did not choose a value.
_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _limit_blas_threads() -> None:
    if "numpy" in sys.modules:
        return
    for var in _BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")


def default_out_dir(settings: Settings, dataset: Path, model: str, misbehave: str | None) -> Path:
    """`<RA_HOME>/evals/<dataset stem>-<model>[-<misbehaviour>]` (no timestamp: reruns replace)."""
    from retrieval.ids import slugify

    name = "-".join(
        part for part in (dataset.stem, slugify(model.replace(":", "-")), misbehave) if part
    )
    return settings.home / "evals" / name


def _progress(enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\reval: {done}/{total} items", end=end, file=sys.stderr, flush=True)

    return show


def run_eval(args: argparse.Namespace) -> int:
    """Run a dataset through the assistant, write report.json/report.md, print the table."""
    _limit_blas_threads()
    if args.beir:
        return run_beir(args)
    from assistant.chat.registry import MISBEHAVIOURS
    from evals import SEED_DATASET
    from evals.dataset import DatasetError, load_dataset
    from evals.report import format_headline, write_reports
    from evals.runner import (
        RANDOM_SOURCES,
        RandomSourcesIndex,
        build_assistant_factory,
        make_llm_judge,
        run_items,
    )

    settings = settings_from_args(args)
    model_name = settings.resolved_model
    offline = model_name == "offline" or model_name.startswith("offline:")
    misbehave: str | None = args.misbehave
    if misbehave:
        known = sorted([*MISBEHAVIOURS, RANDOM_SOURCES])
        if misbehave not in known:
            return fail(f"unknown misbehaviour {misbehave!r}; known: {', '.join(known)}", 2)
        if misbehave != RANDOM_SOURCES:
            if not offline:
                return fail("--misbehave (other than random-sources) needs the offline model", 2)
            model_name = f"offline:{misbehave}"

    dataset_path = Path(args.dataset) if args.dataset else SEED_DATASET
    try:
        dataset = load_dataset(dataset_path)
    except DatasetError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return fail(f"{len(exc.issues)} bad line(s) in {dataset_path}", EXIT_BAD_INPUT)
    except OSError as exc:
        return fail(f"cannot read {dataset_path}: {exc.strerror or exc}", EXIT_BAD_INPUT)
    if args.limit is not None:
        dataset = dataset.limit(args.limit)

    baseline: dict[str, Any] | None = None
    if args.baseline:
        try:
            baseline = json.loads(Path(args.baseline).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return fail(f"cannot read baseline {args.baseline}: {exc}", EXIT_BAD_INPUT)
        if not isinstance(baseline, dict) or "headline" not in baseline:
            return fail(f"{args.baseline} is not an eval report.json", EXIT_BAD_INPUT)

    assistant = open_assistant(args, seed=False)
    if assistant.corpus_size() == 0 and dataset_path.resolve() != SEED_DATASET.resolve():
        return fail("the index is empty: run `ra ingest` with your papers first")
    assistant.ensure_index(notice=notice)
    index: Any = assistant.index
    known_ids = {p.paper_id for p in assistant.papers()}
    missing = sorted({g for item in dataset.items for g in item.gold} - known_ids)
    if missing:
        print(
            f"eval: warning: {len(missing)} gold paper id(s) are not in the index "
            f"(e.g. {missing[0]}); retrieval and citation scores will suffer",
            file=sys.stderr,
        )
    if misbehave == RANDOM_SOURCES:
        index = RandomSourcesIndex(index)

    judge = None
    judge_name: str | None = None
    judge_model = args.judge or ("none" if offline else model_name)
    if judge_model != "none":
        judge_name = judge_model
        judge = make_llm_judge(settings, judge_model)

    out_dir = (
        Path(args.out)
        if args.out
        else default_out_dir(
            settings,
            dataset_path,
            settings.resolved_model,
            misbehave,
        )
    )
    with tempfile.TemporaryDirectory(prefix="ra-eval-") as tmp:
        factory = build_assistant_factory(settings, index, model_name, Path(tmp) / "history.sqlite")
        run = run_items(
            dataset,
            factory,
            index,
            model=model_name,
            concurrency=args.concurrency,
            misbehave=misbehave,
            judge=judge,
            judge_name=judge_name,
            progress=_progress(not args.json),
        )
    report = write_reports(run, out_dir, baseline=baseline)
    if args.json:
        print_json(report)
    else:
        print(format_headline(report))
        print(
            f"\n{len(run.items)} items in {run.wall_seconds:.1f} s; reports: "
            f"{out_dir / 'report.json'}, {out_dir / 'report.md'}"
        )
    return 0


def _beir_dirs(root: Path) -> list[Path]:
    """`root` itself when it is a BEIR dataset, else its sub-folders that are."""
    if (root / "corpus.jsonl").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "corpus.jsonl").is_file())


def run_beir(args: argparse.Namespace) -> int:
    """`ra eval --beir DIR`: nDCG@10 and recall@100 for dense, BM25 and hybrid."""
    from evals.beir import BeirError, format_beir_table, load_beir, run_beir, write_beir_report

    root = Path(args.beir)
    if not root.is_dir():
        return fail(f"no BEIR folder at {root} (expected corpus.jsonl, queries.jsonl, qrels/)")
    dirs = _beir_dirs(root)
    if not dirs:
        return fail(f"{root} holds no BEIR dataset (no corpus.jsonl in it or its sub-folders)")
    if args.bm25_published is not None and len(dirs) > 1:
        return fail("--bm25-published applies to a single dataset; pass its folder")
    settings = settings_from_args(args)
    out_dir = Path(args.out) if args.out else settings.home / "evals" / "beir"
    reports = []
    for directory in dirs:
        try:
            data = load_beir(directory)
            report = run_beir(
                data,
                settings.retrieval(),
                bm25_published=args.bm25_published,
                progress=None if args.json else lambda m: print(f"beir: {m}", file=sys.stderr),
            )
        except BeirError as exc:
            return fail(str(exc), EXIT_BAD_INPUT)
        write_beir_report(report, out_dir)
        reports.append(report)
        if not args.json:
            print(format_beir_table(report))
            print()
    if args.json:
        print_json([r.model_dump(mode="json", exclude={"per_query"}) for r in reports])
    else:
        print(f"reports in {out_dir}")
    return 0
