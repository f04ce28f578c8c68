"""Rendering eval reports: the terminal headline table and report.md."""

from __future__ import annotations

from typing import Any

from evals.metrics import HEADLINE


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
        + (f", {c['judge_errors']} failed judge calls" if c.get("judge_errors") else "")
    )
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def category_table(report: dict[str, Any]) -> list[str]:
    """Every headline metric per category (Markdown rows; n/a where it does not apply)."""
    cols = [
        spec.key
        for spec in HEADLINE
        if spec.key != "support_judge"
        or any(v.get("support_judge") is not None for v in report["by_category"].values())
    ]
    lines = [
        "| category | n | " + " | ".join(cols) + " |",
        "|---|---:|" + "---:|" * len(cols),
    ]
    for cat, vals in report["by_category"].items():
        cells = " | ".join(_fmt(vals.get(k)) for k in cols)
        lines.append(f"| {cat} | {vals['n']} | {cells} |")
    return lines


def format_markdown(report: dict[str, Any], timings: dict[str, Any] | None = None) -> str:
    """report.md: headline, per-category breakdown, cost, latency, worst items, comparison."""
    ds, run, c = report["dataset"], report["run"], report["counts"]
    out: list[str] = [
        f"# Eval report: {ds['name']}",
        "",
        f"- model: `{run['model']}`"
        + (f" (misbehaviour: `{run['misbehave']}`)" if run.get("misbehave") else ""),
        f"- items: {c['items']} ({c['answerable']} answerable, {c['unanswerable']} "
        f"unanswerable); errors: {c['errors']}; judge errors: {c.get('judge_errors', 0)}; "
        f"abstained: {c['abstained']}",
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
    out += category_table(report)
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
