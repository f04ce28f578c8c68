"""The eval harness: datasets, metrics, the runner, reports, the BEIR benchmark and the CI gate.

See docs/evals.md for the dataset schema and every metric's formula.
"""

from __future__ import annotations

from pathlib import Path

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
SEED_DATASET = DATASETS_DIR / "seed.jsonl"
SEED_BEIR_DIR = DATASETS_DIR / "beir-seeds"
THRESHOLDS_FILE = Path(__file__).resolve().parent / "thresholds.json"
