"""The CI gate: check a report.json against the floors in evals/thresholds.json.

    python -m evals.gate REPORT.json [--thresholds FILE]

Exit 0 when every gated metric meets its threshold, 1 when one does not (each failure is
printed as `FAIL <metric> = <value> < <floor> (min)`), 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evals import THRESHOLDS_FILE


class Bound(BaseModel):
    """A floor (`min`) and/or a ceiling (`max`) for one headline metric."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs `min` or `max`")
        return self


class Thresholds(BaseModel):
    """evals/thresholds.json: the dataset and model they were measured on, and the bounds."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    dataset: str | None = None
    model: str | None = None
    metrics: dict[str, Bound] = Field(min_length=1)
    # Per-category bounds: {"numeric": {"fact_recall": {"min": 0.9}}}.
    categories: dict[str, dict[str, Bound]] = Field(default_factory=dict)
    # Upper bounds on report counts: {"errors": 0, "judge_errors": 0}.
    counts: dict[str, int] = Field(default_factory=dict)


def check(report: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """Failure messages (empty when the report passes)."""
    failures: list[str] = []
    run = report.get("run", {})
    dataset = report.get("dataset", {}).get("name")
    if thresholds.dataset and dataset != thresholds.dataset:
        failures.append(f"FAIL dataset is {dataset!r}, thresholds are for {thresholds.dataset!r}")
    if thresholds.model and run.get("model") != thresholds.model:
        failures.append(
            f"FAIL model is {run.get('model')!r}, thresholds are for {thresholds.model!r}"
        )
    failures += _check_values(report.get("headline", {}), thresholds.metrics, "")
    by_category: dict[str, Any] = report.get("by_category", {})
    for category, bounds in sorted(thresholds.categories.items()):
        values = by_category.get(category)
        if values is None:
            failures.append(f"FAIL category {category!r} is missing from the report")
            continue
        failures += _check_values(values, bounds, f"{category}.")
    counts: dict[str, Any] = report.get("counts", {})
    for name, most in sorted(thresholds.counts.items()):
        value = counts.get(name)
        if not isinstance(value, int) or value > most:
            failures.append(f"FAIL count {name} = {value} > {most} (max)")
    return failures


def _check_values(values: dict[str, Any], bounds: dict[str, Bound], prefix: str) -> list[str]:
    failures: list[str] = []
    for name, bound in bounds.items():
        value = values.get(name)
        if not isinstance(value, int | float):
            failures.append(f"FAIL {prefix}{name} is missing from the report (no value)")
            continue
        if bound.min is not None and value < bound.min:
            failures.append(f"FAIL {prefix}{name} = {value:.4f} < {bound.min:.4f} (min)")
        if bound.max is not None and value > bound.max:
            failures.append(f"FAIL {prefix}{name} = {value:.4f} > {bound.max:.4f} (max)")
    return failures


def load_thresholds(path: Path) -> Thresholds:
    """Parse a thresholds file (raises OSError / ValueError)."""
    return Thresholds.model_validate(json.loads(path.read_text(encoding="utf-8")))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m evals.gate`."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.gate", description="Check an eval report against the CI floors."
    )
    parser.add_argument("report", help="report.json written by `ra eval`")
    parser.add_argument("--thresholds", default=str(THRESHOLDS_FILE), help="thresholds JSON")
    args = parser.parse_args(argv)
    try:
        report = json.loads(Path(args.report).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"evals.gate: error: cannot read report {args.report}: {exc}", file=sys.stderr)
        return 2
    try:
        thresholds = load_thresholds(Path(args.thresholds))
    except (OSError, ValueError, ValidationError) as exc:
        print(f"evals.gate: error: bad thresholds {args.thresholds}: {exc}", file=sys.stderr)
        return 2
    failures = check(report, thresholds)
    rows = [
        (name, report.get("headline", {}).get(name), b) for name, b in thresholds.metrics.items()
    ]
    for category, bounds in sorted(thresholds.categories.items()):
        values = report.get("by_category", {}).get(category, {})
        rows += [(f"{category}.{name}", values.get(name), b) for name, b in bounds.items()]
    for name, value, bound in rows:
        shown = f"{value:.4f}" if isinstance(value, int | float) else "n/a"
        limits = " ".join(
            f"{k} {v:.4f}" for k, v in (("min", bound.min), ("max", bound.max)) if v is not None
        )
        print(f"  {name:<28} {shown:>8}   ({limits})")
    if failures:
        for line in failures:
            print(line, file=sys.stderr)
        print(
            f"evals.gate: {len(failures)} check(s) failed for {args.report}; if the drop is "
            "intended, re-measure and update evals/thresholds.json",
            file=sys.stderr,
        )
        return 1
    print(f"evals.gate: OK ({len(rows)} metrics within their bounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
