"""Scoring of one answer, aggregation, baseline comparison, report files and the CI gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.answer import Answer, Citation, SourceGiven, Usage
from assistant.support import parse_verdict
from evals import THRESHOLDS_FILE
from evals.dataset import EvalItem
from evals.gate import Thresholds, check, load_thresholds, main
from evals.report import aggregate, build_report, compare, format_headline, write_reports
from evals.runner import ItemTiming, RunResult, call_with_retry, score_item

SOURCES = [
    SourceGiven(
        number=1,
        paper_id="poly",
        title="PolyGuard",
        authors=["Priyanshu Kumar"],
        year=2025,
        text="PolyGuard is trained on PolyGuardMix with 1.91M samples across 17 languages.",
    ),
    SourceGiven(
        number=2,
        paper_id="xteam",
        title="X-Teaming",
        text="X-Teaming achieves a 96.2% attack success rate against Claude 3.7 Sonnet.",
    ),
]


def _answer(text: str, *, abstained: bool = False, invalid: list[int] | None = None) -> Answer:
    cites = [Citation(marker=n, paper_id=s.paper_id, title=s.title) for n, s in [(1, SOURCES[0])]]
    return Answer(
        question="q",
        answer=text,
        citations=cites if "[1]" in text else [],
        invalid_citations=invalid or [],
        sources=SOURCES,
        model="offline",
        usage=Usage(prompt_tokens=100, completion_tokens=20),
        abstained=abstained,
    )


def _item(**kw: object) -> EvalItem:
    base: dict[str, object] = {
        "id": "i1",
        "category": "fact",
        "question": "How many languages does PolyGuard cover?",
        "gold": ["poly"],
        "expected_facts": ["17 languages", "1.91M"],
    }
    base.update(kw)
    return EvalItem.model_validate(base)


def test_score_good_answer() -> None:
    text = "PolyGuard is trained on 1.91M samples across 17 languages [1]."
    r = score_item(_item(), _answer(text), ["poly", "xteam"])
    s = r.scores
    assert (s.recall_at_5, s.mrr, s.ndcg_at_10) == (1.0, 1.0, 1.0)
    assert (s.valid_markers, s.invalid_markers, s.citation_validity) == (1, 0, 1.0)
    assert (s.citation_precision, s.citation_recall) == (1.0, 1.0)
    assert (s.claims, s.supported_claims, s.support) == (1, 1, 1.0)
    assert s.fact_recall == 1.0 and r.missing_facts == []
    assert s.source_recall == 1.0
    assert s.quality == 1.0
    assert r.cited == ["poly"]


def test_score_bad_answer() -> None:
    # An invented marker [7] (reported as invalid), a miscited sentence and a missing fact.
    text = "PolyGuard covers 17 languages [2]. It also covers Klingon and Elvish dialects [7]."
    r = score_item(_item(), _answer(text, invalid=[7]), ["xteam", "zzz", "poly"])
    s = r.scores
    assert s.recall_at_5 == 1.0 and s.mrr == pytest.approx(1 / 3)
    assert (s.valid_markers, s.invalid_markers) == (1, 1)
    assert s.citation_validity == 0.5
    assert (s.citation_precision, s.citation_recall) == (0.0, 0.0)
    assert (s.claims, s.supported_claims, s.support) == (2, 0, 0.0)
    assert s.fact_recall == 0.5 and r.missing_facts == ["1.91M"]


def test_invalid_marker_rewritten_out_of_text_still_counts() -> None:
    r = score_item(_item(), _answer("PolyGuard covers 17 languages [1].", invalid=[9]), None)
    assert (r.scores.valid_markers, r.scores.invalid_markers) == (1, 1)
    assert r.scores.recall_at_5 is None


def test_abstention_scores() -> None:
    unans = _item(id="u", category="unanswerable", gold=[], expected_facts=[], answerable=False)
    ok = score_item(unans, _answer("The indexed papers do not cover this.", abstained=True), [])
    assert ok.scores.abstention_correct is True and ok.scores.quality == 1.0
    assert ok.scores.support is None and ok.scores.citation_recall is None
    wrong = score_item(unans, _answer("PolyGuard covers 17 languages [1]."), [])
    assert wrong.scores.abstention_correct is False and wrong.scores.quality == 0.0
    false_abst = score_item(
        _item(), _answer("The indexed papers do not cover this.", abstained=True), ["poly"]
    )
    assert false_abst.scores.support == 0.0 and false_abst.scores.quality == 0.0


def test_error_item() -> None:
    r = score_item(_item(), None, ["poly"], error="ModelError: boom")
    assert r.scores.error and r.scores.citation_recall == 0.0 and r.scores.fact_recall == 0.0
    assert r.scores.recall_at_5 == 1.0


def test_judge_is_used_when_given() -> None:
    calls: list[tuple[str, list[str]]] = []

    def judge(sentence: str, sources: list[str]) -> bool:
        calls.append((sentence, sources))
        return "17" in sentence

    text = "PolyGuard covers 17 languages [1]. X-Teaming attacks Claude models well [2]."
    r = score_item(_item(), _answer(text), ["poly"], judge=judge)
    assert r.scores.support_judge == 0.5
    assert len(calls) == 2 and "PolyGuard" in calls[0][1][0]
    assert parse_verdict("SUPPORTED") and not parse_verdict("NOT_SUPPORTED")
    assert not parse_verdict("not supported") and not parse_verdict("")


def test_call_with_retry_on_rate_limit() -> None:
    from assistant.errors import ModelError

    attempts = {"n": 0}
    slept: list[float] = []

    def flaky() -> int:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ModelError("rate_limit", "rate limited")
        return 42

    assert call_with_retry(flaky, sleep=slept.append) == (42, 3)
    assert len(slept) == 2 and slept[1] > slept[0] * 1.1

    def broken() -> int:
        raise ModelError("auth", "bad key")

    with pytest.raises(ModelError):
        call_with_retry(broken, sleep=slept.append)


def _run(items: list[tuple[EvalItem, Answer | None]]) -> RunResult:
    results = [score_item(it, ans, ["poly"]) for it, ans in items]
    return RunResult(
        dataset="/somewhere/seed.jsonl",
        dataset_sha256="0" * 64,
        model="offline",
        items=results,
        timings=[ItemTiming(id=r.id, timings_ms={"total": 5.0}, harness_ms=6.0) for r in results],
        wall_seconds=1.5,
        concurrency=1,
    )


def _sample_run(good: bool) -> RunResult:
    text = "PolyGuard is trained on 1.91M samples across 17 languages [1]."
    if not good:
        text = "PolyGuard covers many languages [2]."
    unans = _item(id="u", category="unanswerable", gold=[], expected_facts=[], answerable=False)
    return _run(
        [
            (_item(), _answer(text)),
            (unans, _answer("The indexed papers do not cover this.", abstained=True)),
        ]
    )


def test_aggregate_and_report(tmp_path: Path) -> None:
    run = _sample_run(good=True)
    head = aggregate(run.items)
    assert head["recall@5"] == 1.0 and head["citation_validity"] == 1.0
    assert head["abstention_accuracy"] == 1.0 and head["false_abstention_rate"] == 0.0
    assert head["support_judge"] is None and head["error_rate"] == 0.0
    report = write_reports(run, tmp_path)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == report
    assert report["dataset"]["name"] == "seed.jsonl"  # no absolute path
    assert set(report["by_category"]) == {"fact", "unanswerable"}
    assert "wall_seconds" not in json.dumps(report) and "timings_ms" not in json.dumps(report)
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert timings["latency_ms"]["total"]["p50"] == 5.0
    md = (tmp_path / "report.md").read_text()
    for heading in ("## Headline", "## By category", "## Cost", "## Worst items"):
        assert heading in md
    assert "> PolyGuard is trained" in md
    assert "recall@5" in format_headline(report)


def test_compare_with_baseline(tmp_path: Path) -> None:
    base = build_report(_sample_run(good=True))
    worse = build_report(_sample_run(good=False), baseline=base)
    cmp = worse["comparison"]
    assert "citation_recall" in cmp["regressed"] and "support" in cmp["regressed"]
    assert cmp["metrics"]["recall@5"]["status"] == "same"
    assert cmp["items_changed"][0]["id"] == "i1" and cmp["items_changed"][0]["delta"] < 0
    better = compare(base["headline"], worse)
    assert "citation_recall" in better["improved"]
    # lower is better for the false-abstention rate
    assert (
        compare({"false_abstention_rate": 0.1}, {"headline": {"false_abstention_rate": 0.2}})[
            "metrics"
        ]["false_abstention_rate"]["status"]
        == "improved"
    )
    md_path = tmp_path / "out"
    write_reports(_sample_run(good=False), md_path, baseline=base)
    assert "## Comparison with the baseline" in (md_path / "report.md").read_text()
    assert "regressed" in format_headline(worse)


def test_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = build_report(_sample_run(good=True))
    thresholds = Thresholds.model_validate(
        {"metrics": {"support": {"min": 0.9}, "false_abstention_rate": {"max": 0.2}}}
    )
    assert check(report, thresholds) == []
    bad = build_report(_sample_run(good=False))
    failures = check(bad, thresholds)
    assert failures == ["FAIL support = 0.0000 < 0.9000 (min)"]
    missing = Thresholds.model_validate({"metrics": {"nope": {"min": 0.1}}})
    assert "missing" in check(report, missing)[0]
    per_category = Thresholds.model_validate(
        {
            "metrics": {"support": {"min": 0.0}},
            "categories": {"fact": {"fact_recall": {"min": 0.9}}},
            "counts": {"errors": 0},
        }
    )
    assert check(report, per_category) == []
    assert check(bad, per_category) == ["FAIL fact.fact_recall = 0.0000 < 0.9000 (min)"]

    rpath, tpath = tmp_path / "report.json", tmp_path / "t.json"
    rpath.write_text(json.dumps(bad))
    tpath.write_text(thresholds.model_dump_json())
    assert main([str(rpath), "--thresholds", str(tpath)]) == 1
    assert "FAIL support" in capsys.readouterr().err
    rpath.write_text(json.dumps(report))
    assert main([str(rpath), "--thresholds", str(tpath)]) == 0
    assert main([str(tmp_path / "absent.json")]) == 2


def test_repo_thresholds_file_is_valid() -> None:
    t = load_thresholds(THRESHOLDS_FILE)
    assert t.dataset == "seed.jsonl" and t.model == "offline"
    assert {"recall@5", "citation_validity", "support", "abstention_accuracy"} <= set(t.metrics)
