"""Reports: aggregate item scores, compare with a baseline, write report.json / report.md.

`report.json` holds only deterministic data (for the offline model two runs are
byte-identical); wall-clock latency goes to `timings.json` and to a marked section of
`report.md`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from evals.metrics import SUPPORT_THRESHOLD, mean, percentile
from evals.runner import ItemResult, ItemTiming, RunResult

REPORT_FORMAT = "ra-eval-report/1"
WORST_N = 8
EPSILON = 1e-9

Direction = Literal["higher", "lower"]


class MetricSpec(BaseModel):
    """A headline metric: its key, label and which direction is better."""

    key: str
    label: str
    better: Direction = "higher"


HEADLINE: tuple[MetricSpec, ...] = (
    MetricSpec(key="recall@5", label="Retrieval recall@5"),
    MetricSpec(key="recall@10", label="Retrieval recall@10"),
    MetricSpec(key="mrr", label="Retrieval MRR"),
    MetricSpec(key="ndcg@10", label="Retrieval nDCG@10"),
    MetricSpec(key="source_recall", label="Gold papers among the sources given"),
    MetricSpec(key="citation_validity", label="Citation validity"),
    MetricSpec(key="citation_precision", label="Citation precision (vs gold)"),
    MetricSpec(key="citation_recall", label="Citation recall (vs gold)"),
    MetricSpec(key="support", label="Support (lexical)"),
    MetricSpec(key="support_judge", label="Support (LLM judge)"),
    MetricSpec(key="fact_recall", label="Expected facts present"),
    MetricSpec(key="abstention_accuracy", label="Abstention accuracy (unanswerable)"),
    MetricSpec(key="false_abstention_rate", label="False abstention rate", better="lower"),
    MetricSpec(key="error_rate", label="Error rate", better="lower"),
)
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


# --- rendering -------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _delta(value: float | None) -> str:
    return "" if value is None else f"{value:+.3f}"


def headline_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(key, label, value, baseline, delta+status) rows for the headline table."""
    comparison = report.get("comparison") or {}
    metrics = comparison.get("metrics", {})
    rows = []
    for spec in HEADLINE:
        value = report["headline"].get(spec.key)
        cmp = metrics.get(spec.key)
        if value is None and cmp is None and spec.key in ("support_judge",):
            continue
        base = _fmt(cmp["baseline"]) if cmp else ""
        delta = f"{_delta(cmp['delta'])} {cmp['status']}".strip() if cmp else ""
        rows.append((spec.key, spec.label, _fmt(value), base, delta))
    return rows


def format_headline(report: dict[str, Any]) -> str:
    """A plain-text table for the terminal."""
    rows = headline_rows(report)
    with_base = report.get("comparison") is not None
    header = ("metric", "value", "baseline", "change") if with_base else ("metric", "value")
    table = [header] + [(r[0], r[2], r[3], r[4]) if with_base else (r[0], r[2]) for r in rows]
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    lines = []
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [row[c].rjust(widths[c]) for c in range(1, len(row))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    c = report["counts"]
    run = report["run"]
    lines.append("")
    lines.append(
        f"{c['items']} items ({c['answerable']} answerable, {c['unanswerable']} unanswerable), "
        f"model {run['model']}"
        + (f" misbehaving: {run['misbehave']}" if run.get("misbehave") else "")
        + f", {c['errors']} errors"
    )
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(report: dict[str, Any], timings: dict[str, Any] | None = None) -> str:
    """report.md: headline, per-category breakdown, cost, latency, worst items, comparison."""
    ds, run, c = report["dataset"], report["run"], report["counts"]
    out: list[str] = [
        f"# Eval report: {ds['name']}",
        "",
        f"- model: `{run['model']}`"
        + (f" (misbehaviour: `{run['misbehave']}`)" if run.get("misbehave") else ""),
        f"- items: {c['items']} ({c['answerable']} answerable, {c['unanswerable']} "
        f"unanswerable); errors: {c['errors']}; abstained: {c['abstained']}",
        f"- dataset sha256: `{ds['sha256'][:16]}`; support threshold: {run['support_threshold']}"
        + (f"; judge: `{run['judge']}`" if run.get("judge") else ""),
        "",
        "## Headline",
        "",
    ]
    rows = headline_rows(report)
    with_base = report.get("comparison") is not None
    if with_base:
        out += ["| metric | value | baseline | change |", "|---|---:|---:|---|"]
        out += [f"| {r[1]} (`{r[0]}`) | {r[2]} | {r[3]} | {r[4]} |" for r in rows]
    else:
        out += ["| metric | value |", "|---|---:|"]
        out += [f"| {r[1]} (`{r[0]}`) | {r[2]} |" for r in rows]
    out += [
        "",
        f"Citation markers: {c['valid_markers']} valid, {c['invalid_markers']} invalid. "
        f"Claim sentences: {c['claim_sentences']}, supported: "
        f"{c['supported_claim_sentences']}.",
        "",
        "## By category",
        "",
    ]
    cols = ["recall@5", "mrr", "citation_validity", "citation_recall", "support", "fact_recall"]
    out += [
        "| category | n | " + " | ".join(cols) + " | abstention acc. | false abst. |",
        "|---|---:|" + "---:|" * (len(cols) + 2),
    ]
    for cat, vals in report["by_category"].items():
        cells = " | ".join(_fmt(vals.get(k)) for k in cols)
        out.append(
            f"| {cat} | {vals['n']} | {cells} | {_fmt(vals.get('abstention_accuracy'))} "
            f"| {_fmt(vals.get('false_abstention_rate'))} |"
        )
    cost_ = report["cost"]
    out += [
        "",
        "## Cost",
        "",
        f"Tokens: {cost_['prompt_tokens']} prompt ({cost_['prompt_tokens_mean']:.1f}/item), "
        f"{cost_['completion_tokens']} completion ({cost_['completion_tokens_mean']:.1f}/item).",
        "",
    ]
    if timings is not None:
        out += [
            "Latency (wall clock; varies between runs, kept out of report.json): "
            f"{timings['wall_seconds']:.2f} s for {timings['items']} items, "
            f"concurrency {timings['concurrency']}.",
            "",
            "| stage | p50 ms | p95 ms | mean ms | n |",
            "|---|---:|---:|---:|---:|",
        ]
        for stage, v in timings["latency_ms"].items():
            out.append(
                f"| {stage} | {_fmt(v['p50'])} | {_fmt(v['p95'])} | {_fmt(v['mean'])} | {v['n']} |"
            )
        out.append("")
    by_id = {i["id"]: i for i in report["items"]}
    out += ["## Worst items", ""]
    for item_id in report["worst"]:
        item = by_id[item_id]
        s = item["scores"]
        out += [
            f"### `{item_id}` ({item['category']}, quality {s['quality']:.3f})",
            "",
            f"**Q:** {item['question']}",
            "",
            f"- gold: {', '.join(f'`{g}`' for g in item['gold']) or '(unanswerable)'}",
            f"- retrieved top 5: {', '.join(f'`{g}`' for g in item['retrieved'][:5]) or 'n/a'}",
            f"- cited: {', '.join(f'`{g}`' for g in item['cited']) or 'none'}; "
            f"invalid markers: {item['invalid_citations'] or 'none'}; "
            f"abstained: {item['abstained']}",
        ]
        if item["missing_facts"]:
            out.append(f"- missing facts: {', '.join(repr(f) for f in item['missing_facts'])}")
        if item["error"]:
            out.append(f"- error: {_md_escape(item['error'])}")
        if item["unsupported"]:
            first = item["unsupported"][0]
            out.append(
                f"- unsupported sentence (score {first['score']:.2f}): {_md_escape(first['text'])}"
            )
        answer = item["answer"].strip() or "(empty)"
        out += ["", "> " + answer.replace("\n", "\n> "), ""]
    comparison = report.get("comparison")
    if comparison:
        base = comparison["baseline"]
        out += [
            "## Comparison with the baseline",
            "",
            f"Baseline: model `{base.get('run', {}).get('model')}`, dataset "
            f"`{base.get('dataset', {}).get('name')}`.",
            "",
            f"- improved: {', '.join(comparison['improved']) or 'none'}",
            f"- regressed: {', '.join(comparison['regressed']) or 'none'}",
            "",
        ]
        changed = comparison["items_changed"]
        if changed:
            out += ["| item | baseline quality | current | change |", "|---|---:|---:|---:|"]
            out += [
                f"| `{ch['id']}` | {ch['baseline']:.3f} | {ch['current']:.3f} "
                f"| {ch['delta']:+.3f} |"
                for ch in changed
            ]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


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
