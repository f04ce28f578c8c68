"""The harness end to end on the real seed index: discrimination, determinism, gold ids, BEIR.

The discrimination test runs a fixed subset with the honest offline model and with each
misbehaviour, and asserts that the metrics that should catch it drop.
"""

from __future__ import annotations

import filecmp
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings, load_settings
from evals import SEED_BEIR_DIR, SEED_DATASET
from evals.beir import build_seed_beir, load_beir, run_beir
from evals.dataset import Dataset, load_dataset
from evals.report import build_report, dumps
from evals.runner import RandomSourcesIndex, RunResult, build_assistant_factory, run_items

Runner = Callable[..., RunResult]

# A fixed mix: lookups, facts, multi-paper, a follow-up pair, a summary, a topic summary
# and three unanswerable questions.
SUBSET = [
    "lookup-03",
    "lookup-04",
    "lookup-10",
    "lookup-12",
    "lookup-16",
    "lookup-18",
    "lookup-20",
    "fact-01",
    "fact-02",
    "fact-04",
    "fact-05",
    "fact-10",
    "multi-02",
    "multi-05",
    "fu-01a",
    "fu-01b",
    "sum-01",
    "topic-01",
    "unans-01",
    "unans-02",
    "unans-04",
]


@pytest.fixture(scope="module")
def subset() -> Dataset:
    ds = load_dataset(SEED_DATASET)
    items = [i for i in ds.items if i.id in SUBSET]
    assert [i.id for i in items] == SUBSET
    return ds.model_copy(update={"items": items})


@pytest.fixture(scope="module")
def runner(seed_home: Path, seed_index: Any, subset: Dataset, tmp_path_factory: Any) -> Runner:
    """Runs the subset (honest or misbehaving); each distinct run is done once per module."""
    db_dir = tmp_path_factory.mktemp("eval-history")
    cache: dict[tuple[str, bool, int], RunResult] = {}

    def run(
        model: str = "offline", *, random_sources: bool = False, concurrency: int = 1
    ) -> RunResult:
        key = (model, random_sources, concurrency)
        if key not in cache:
            with pytest.MonkeyPatch.context() as mp:
                for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RA_MODEL", "RA_CHROMA_URL"):
                    mp.delenv(var, raising=False)
                mp.setenv("RA_CONFIG", os.devnull)
                settings = load_settings(home=seed_home, model="offline")
                index = RandomSourcesIndex(seed_index) if random_sources else seed_index
                db = db_dir / f"{len(cache)}.db"
                factory = build_assistant_factory(settings, index, model, db)
                cache[key] = run_items(subset, factory, index, model=model, concurrency=concurrency)
        return cache[key]

    return run


def _head(run: RunResult) -> dict[str, Any]:
    return build_report(run)["headline"]


def test_gold_ids_exist_in_the_merged_seed_index(seed_index: Any) -> None:
    ids = {p.paper_id for p in seed_index.papers()}
    assert len(ids) == 51
    ds = load_dataset(SEED_DATASET)
    missing = {(item.id, g) for item in ds.items for g in item.gold if g not in ids}
    assert not missing
    # Summary references resolve to their gold paper.
    for item in ds.items:
        if item.kind == "summary":
            assert item.paper is not None
            found = seed_index.resolve(item.paper)
            assert found and found[0].paper_id == item.gold[0], item.id


def test_discrimination(runner: Runner) -> None:
    honest = _head(runner())
    assert honest["citation_validity"] == 1.0
    assert honest["citation_recall"] >= 0.7 and honest["citation_precision"] >= 0.7
    assert honest["support"] >= 0.8
    assert honest["recall@5"] >= 0.8 and honest["fact_recall"] >= 0.6
    assert honest["abstention_accuracy"] == 1.0 and honest["error_rate"] == 0.0

    invent = _head(runner("offline:invent-citation"))
    assert invent["citation_validity"] <= honest["citation_validity"] - 0.2

    uncited = _head(runner("offline:no-citations"))
    assert uncited["citation_validity"] is None  # no marker at all
    assert uncited["citation_recall"] <= honest["citation_recall"] - 0.5
    assert uncited["citation_precision"] <= honest["citation_precision"] - 0.5
    assert uncited["support"] <= honest["support"] - 0.5

    wrong = _head(runner("offline:wrong-source"))
    assert wrong["citation_validity"] == 1.0  # valid numbers, wrong papers
    assert wrong["support"] <= honest["support"] - 0.4
    assert wrong["citation_precision"] <= honest["citation_precision"] - 0.3

    shuffled = _head(runner(random_sources=True))
    for key in ("recall@5", "recall@10", "mrr", "ndcg@10", "source_recall"):
        assert shuffled[key] <= honest[key] - 0.5, key
    assert shuffled["citation_recall"] <= honest["citation_recall"] - 0.4
    assert shuffled["fact_recall"] <= honest["fact_recall"] - 0.3

    broken = _head(runner("offline:fail-midstream"))
    assert broken["error_rate"] >= 0.5


def test_two_runs_identical(runner: Runner) -> None:
    first = runner()  # the honest run of test_discrimination when it ran first
    second = runner(concurrency=3)
    assert dumps(build_report(first)) == dumps(build_report(second))
    assert first.wall_seconds >= 0 and len(second.timings) == len(SUBSET)
    # Follow-ups ran in their parent's conversation: the condensed query is recorded.
    follow = next(i for i in first.items if i.id == "fu-01b")
    assert follow.standalone_query and follow.standalone_query != follow.question


def test_seed_beir_set_is_current(seed_index: Any, tmp_path: Path) -> None:
    build_seed_beir(load_dataset(SEED_DATASET), seed_index.papers(), tmp_path)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert filecmp.cmp(tmp_path / name, SEED_BEIR_DIR / name, shallow=False), name


def test_beir_on_the_seed_set(seed_settings: Settings) -> None:
    data = load_beir(SEED_BEIR_DIR)
    assert len(data.corpus) == 51 and len(data.evaluated_queries()) >= 50
    report = run_beir(data, seed_settings.retrieval(), bm25_published=0.5)
    assert report.collection == "beir-beir-seeds"
    assert set(report.modes) == {"dense", "lexical", "hybrid"}
    hybrid = report.modes["hybrid"]
    assert hybrid.ndcg_at_10 >= 0.7 and hybrid.recall_at_100 >= 0.95
    for scores in report.modes.values():
        assert 0.0 <= scores.ndcg_at_10 <= 1.0 and scores.recall_at_100 <= 1.0
    assert report.bm25_published == 0.5
