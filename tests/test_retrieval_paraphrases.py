"""The paraphrased retrieval questions (evals/datasets/retrieval_paraphrases.jsonl) are
well-formed and point at papers that exist in the seed index.

Quality (recall@k, MRR) is a benchmark figure (benchmarks/retrieval_quality.py), not a test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATASET = Path(__file__).resolve().parent.parent / "evals/datasets/retrieval_paraphrases.jsonl"


def _items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]


def test_dataset_shape() -> None:
    items = _items()
    assert len(items) >= 32
    ids = [it["id"] for it in items]
    assert len(ids) == len(set(ids)), "duplicate question ids"
    for item in items:
        assert set(item) == {"id", "query", "gold"}, item
        assert re.fullmatch(r"[a-z0-9-]+", item["id"]), item["id"]
        assert item["query"].strip(), item["id"]
        assert item["gold"] and all(isinstance(g, str) and g for g in item["gold"]), item["id"]
    covered = {g for it in items for g in it["gold"]}
    assert len(covered) >= 32, f"only {len(covered)} different papers covered"


def test_gold_ids_exist_in_seed_index(seed_index: Any) -> None:
    missing = sorted({g for it in _items() for g in it["gold"] if seed_index.get(g) is None})
    assert not missing, f"gold ids not in the seed index: {missing}"


def test_queries_do_not_quote_their_titles(seed_index: Any) -> None:
    """A paraphrase never contains its paper's title (or the name before a colon) verbatim."""
    for item in _items():
        for gold in item["gold"]:
            paper = seed_index.get(gold)
            assert paper is not None
            if paper.title_is_display:
                continue
            name = paper.title.split(":")[0].strip().lower()
            assert name not in item["query"].lower(), (item["id"], paper.title)
