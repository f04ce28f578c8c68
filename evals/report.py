"""Reports: aggregate item scores, compare with a baseline, write report.json / report.md.

`report.json` holds only deterministic data (for the offline model two runs are
byte-identical); wall-clock latency goes to `timings.json` and to a marked section of
`report.md`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.metrics import HEADLINE, SUPPORT_THRESHOLD, mean, percentile
from evals.render import format_headline, format_markdown

__all__ = [
    "EPSILON",
    "HEADLINE",
    "aggregate",
    "build_report",
    "build_timings",
    "compare",
    "counts",
    "dumps",
    "format_headline",
    "format_markdown",
    "write_reports",
]
from evals.runner import ItemTiming, RunResult
from evals.scoring import ItemResult

REPORT_FORMAT = "ra-eval-report/1"
WORST_N = 8
EPSILON = 1e-9

SPEC = {m.key: m for m in HEADLINE}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def aggregate(items: Sequence[ItemResult]) -> dict[str, float | None]:
    """Headline metric values over `items` (formulas in docs/evals.md)."""
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    valid = sum(i.scores.valid_markers for i in items)
    invalid = sum(i.scores.invalid_markers for i in items)
    out: dict[str, float | None] = {
        "recall@5": mean(i.scores.recall_at_5 for i in items),
        "recall@10": mean(i.scores.recall_at_10 for i in items),
        "mrr": mean(i.scores.mrr for i in items),
        "ndcg@10": mean(i.scores.ndcg_at_10 for i in items),
        "source_recall": mean(i.scores.source_recall for i in items),
        "citation_validity": valid / (valid + invalid) if valid + invalid else None,
        "citation_precision": mean(i.scores.citation_precision for i in answerable),
        "citation_recall": mean(i.scores.citation_recall for i in answerable),
        "support": mean(i.scores.support for i in items),
        "support_judge": mean(i.scores.support_judge for i in items),
        "fact_recall": mean(i.scores.fact_recall for i in items),
        "list_recall": mean(i.scores.list_recall for i in items),
        "abstention_accuracy": (
            sum(1 for i in unanswerable if i.scores.abstention_correct) / len(unanswerable)
            if unanswerable
            else None
        ),
        "false_abstention_rate": (
            sum(1 for i in answerable if i.abstained) / len(answerable) if answerable else None
        ),
        "error_rate": sum(1 for i in items if i.scores.error) / len(items) if items else None,
    }
    return {k: _r(v) for k, v in out.items()}


def counts(items: Sequence[ItemResult]) -> dict[str, int]:
    """Plain counts that explain the headline ratios."""
    return {
        "items": len(items),
        "answerable": sum(1 for i in items if i.answerable),
        "unanswerable": sum(1 for i in items if not i.answerable),
        "abstained": sum(1 for i in items if i.abstained),
        "errors": sum(1 for i in items if i.scores.error),
        "judge_errors": sum(i.scores.judge_errors for i in items),
        "incomplete": sum(1 for i in items if i.incomplete),
        "valid_markers": sum(i.scores.valid_markers for i in items),
        "invalid_markers": sum(i.scores.invalid_markers for i in items),
        "claim_sentences": sum(i.scores.claims for i in items),
        "supported_claim_sentences": sum(i.scores.supported_claims for i in items),
    }


def cost(items: Sequence[ItemResult]) -> dict[str, float]:
    """Token totals and means (deterministic offline: counted with tiktoken)."""
    n = max(1, len(items))
    prompt = sum(i.prompt_tokens for i in items)
    completion = sum(i.completion_tokens for i in items)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_tokens_mean": round(prompt / n, 3),
        "completion_tokens_mean": round(completion / n, 3),
    }


def latency(timings: Sequence[ItemTiming]) -> dict[str, dict[str, float | None]]:
    """p50 / p95 / mean per timing stage (the orchestration's `timings_ms` keys + harness)."""
    stages: dict[str, list[float]] = {}
    for t in timings:
        for key, value in t.timings_ms.items():
            stages.setdefault(key, []).append(value)
        stages.setdefault("harness_item", []).append(t.harness_ms)
    return {
        key: {
            "p50": _r(percentile(values, 50)),
            "p95": _r(percentile(values, 95)),
            "mean": _r(mean(values)),
            "n": len(values),
        }
        for key, values in sorted(stages.items())
    }


def worst_items(items: Sequence[ItemResult], n: int = WORST_N) -> list[ItemResult]:
    """The `n` items with the lowest quality score (ties broken by id)."""
    return sorted(items, key=lambda i: (i.scores.quality, i.id))[:n]


def compare(
    headline: dict[str, float | None],
    baseline: dict[str, Any],
    items: Sequence[ItemResult] = (),
) -> dict[str, Any]:
    """Metric-by-metric comparison with a baseline report (improved / regressed / same),
    plus the items whose quality score changed."""
    base_head: dict[str, Any] = baseline.get("headline", {})
    metrics: dict[str, dict[str, Any]] = {}
    for spec in HEADLINE:
        now, before = headline.get(spec.key), base_head.get(spec.key)
        if now is None and before is None:
            continue
        if now is None or before is None:
            status, delta = ("new" if before is None else "missing"), None
        else:
            delta = round(now - before, 6)
            gain = delta if spec.better == "higher" else -delta
            status = "improved" if gain > EPSILON else "regressed" if gain < -EPSILON else "same"
        metrics[spec.key] = {"baseline": before, "current": now, "delta": delta, "status": status}
    base_items = {i["id"]: i for i in baseline.get("items", []) if isinstance(i, dict)}
    return {
        "baseline": {
            "dataset": baseline.get("dataset", {}),
            "run": baseline.get("run", {}),
        },
        "metrics": metrics,
        "improved": sorted(k for k, v in metrics.items() if v["status"] == "improved"),
        "regressed": sorted(k for k, v in metrics.items() if v["status"] == "regressed"),
        "items_changed": _item_changes(items, base_items),
    }


def _item_changes(items: Sequence[ItemResult], base_items: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    for item in items:
        before = base_items.get(item.id)
        if not before:
            continue
        old = float(before.get("scores", {}).get("quality", 0.0))
        new = item.scores.quality
        if abs(new - old) > EPSILON:
            changes.append(
                {"id": item.id, "baseline": old, "current": new, "delta": round(new - old, 6)}
            )
    return sorted(changes, key=lambda c: (c["delta"], c["id"]))


def build_report(
    run: RunResult,
    *,
    baseline: dict[str, Any] | None = None,
    support_threshold: float = SUPPORT_THRESHOLD,
) -> dict[str, Any]:
    """The report.json document (deterministic: no wall-clock data, no absolute paths)."""
    items = run.items
    headline = aggregate(items)
    categories = sorted({i.category for i in items})
    by_category = {}
    for cat in categories:
        group = [i for i in items if i.category == cat]
        by_category[cat] = {"n": len(group), **aggregate(group)}
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "dataset": {
            "name": Path(run.dataset).name,
            "sha256": run.dataset_sha256,
            "items": len(items),
        },
        "run": {
            "model": run.model,
            "misbehave": run.misbehave,
            "judge": run.judge,
            "support_threshold": support_threshold,
        },
        "headline": headline,
        "counts": counts(items),
        "by_category": by_category,
        "cost": cost(items),
        "worst": [i.id for i in worst_items(items)],
        "items": [i.model_dump(mode="json") for i in items],
        "comparison": None,
    }
    if baseline is not None:
        report["comparison"] = compare(headline, baseline, items)
    return report


def build_timings(run: RunResult) -> dict[str, Any]:
    """The timings.json document: everything that depends on the clock."""
    return {
        "format": REPORT_FORMAT,
        "wall_seconds": run.wall_seconds,
        "items": len(run.items),
        "concurrency": run.concurrency,
        "latency_ms": latency(run.timings),
        "per_item": [t.model_dump(mode="json") for t in run.timings],
    }


def dumps(doc: dict[str, Any]) -> str:
    """Stable JSON text: 2-space indent, UTF-8, newline at the end."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_reports(
    run: RunResult,
    out_dir: Path,
    *,
    baseline: dict[str, Any] | None = None,
    support_threshold: float = SUPPORT_THRESHOLD,
) -> dict[str, Any]:
    """Write report.json, timings.json and report.md into `out_dir`; return the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build_report(run, baseline=baseline, support_threshold=support_threshold)
    timings = build_timings(run)
    (out_dir / "report.json").write_text(dumps(report), encoding="utf-8")
    (out_dir / "timings.json").write_text(dumps(timings), encoding="utf-8")
    (out_dir / "report.md").write_text(format_markdown(report, timings), encoding="utf-8")
    return report
