"""Retrieval quality on the paraphrased seed questions: recall@1, recall@5 and MRR for dense,
BM25 (mode="lexical") and hybrid side by side, then the hybrid misses.

Target (issue 2): hybrid recall@5 >= 0.9.

    .venv/bin/python benchmarks/retrieval_quality.py [--dataset PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

if TYPE_CHECKING:
    from retrieval.index import SearchMode

from _common import DATASET, load_paraphrases, note, print_table, retrieval_config, temp_home

from evals.metrics import recall_at_k, reciprocal_rank

MODES: tuple[SearchMode, ...] = ("dense", "lexical", "hybrid")
RECALL5_TARGET = 0.9
SUBSETS = {"rp-": "detailed", "rv-": "vague"}


def rank_of(ranked: list[str], gold: list[str]) -> int | None:
    for i, pid in enumerate(ranked, 1):
        if pid in gold:
            return i
    return None


def paper_rrf(dense: list[str], lexical: list[str], k: int = 60) -> list[str]:
    """Reciprocal-rank fusion of two paper rankings."""
    scores: dict[str, float] = {}
    for ranking in (dense, lexical):
        for rank, pid in enumerate(ranking, 1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda pid: -scores[pid])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args(argv)

    from retrieval.index import PaperIndex

    items = load_paraphrases(args.dataset)
    note(f"retrieval quality: {len(items)} questions from {args.dataset.name}")
    with temp_home() as home:
        index = PaperIndex(retrieval_config(home))
        index.ingest()
        n_papers = index.count()
        missing = sorted({g for it in items for g in it["gold"] if index.get(g) is None})
        if missing:
            note(f"WARNING: gold ids not in the seed index: {missing}")

        # Full rankings (k = every paper) so MRR and the rank of a missed paper are exact.
        ranked: dict[str, dict[str, list[str]]] = {m: {} for m in MODES}
        hybrid_hits: dict[str, list[Any]] = {}
        for item in items:
            for mode in MODES:
                hits = index.search(item["query"], k=n_papers, mode=mode)
                ranked[mode][item["id"]] = [h.paper_id for h in hits]
                if mode == "hybrid":
                    hybrid_hits[item["id"]] = hits

        # What-if, not the product: fuse the dense and BM25 *paper* rankings by RRF (the
        # product fuses chunk rankings, then keeps each paper's best chunk).
        whatif = {
            it["id"]: paper_rrf(ranked["dense"][it["id"]], ranked["lexical"][it["id"]])
            for it in items
        }

        groups = {"all": items}
        for prefix, label in SUBSETS.items():
            subset = [it for it in items if it["id"].startswith(prefix)]
            if subset and len(subset) < len(items):
                groups[label] = subset
        rows = []
        for group, members in groups.items():
            for mode in MODES:
                n = len(members)
                r1 = sum(recall_at_k(ranked[mode][it["id"]], it["gold"], 1) for it in members) / n
                r5 = sum(recall_at_k(ranked[mode][it["id"]], it["gold"], 5) for it in members) / n
                mrr = sum(reciprocal_rank(ranked[mode][it["id"]], it["gold"]) for it in members) / n
                target = ""
                if mode == "hybrid" and group == "all":
                    target = "met" if r5 >= RECALL5_TARGET else "MISSED"
                label = "BM25 (lexical)" if mode == "lexical" else mode
                rows.append([group, label, n, r1, r5, mrr, target])
        print_table(
            ["questions", "retriever", "n", "recall@1", "recall@5", "MRR", "recall@5 >= 0.9"],
            rows,
            f"Paraphrased seed questions ({n_papers} papers in the index)",
        )
        whatif_rows = []
        for group, members in groups.items():
            n = len(members)
            whatif_rows.append(
                [
                    group,
                    "paper-level RRF (what-if)",
                    n,
                    sum(recall_at_k(whatif[it["id"]], it["gold"], 1) for it in members) / n,
                    sum(recall_at_k(whatif[it["id"]], it["gold"], 5) for it in members) / n,
                    sum(reciprocal_rank(whatif[it["id"]], it["gold"]) for it in members) / n,
                ]
            )
        print_table(
            ["questions", "fusion", "n", "recall@1", "recall@5", "MRR"],
            whatif_rows,
            "What-if: RRF (k=60) of the dense and BM25 paper rankings above",
        )
        note(
            "detailed = rp-*: what the paper does, with some specifics a reader would recall; "
            "vague = rv-*: the gist in loose words, no numbers or rare terms"
        )

        misses = []
        for item in items:
            rank = rank_of(ranked["hybrid"][item["id"]], item["gold"])
            if rank is None or rank > 5:
                misses.append((item, rank))
        print_table(
            ["id", "hybrid rank", "dense rank", "BM25 rank", "gold", "hybrid top 1"],
            [
                [
                    item["id"],
                    rank or "-",
                    rank_of(ranked["dense"][item["id"]], item["gold"]) or "-",
                    rank_of(ranked["lexical"][item["id"]], item["gold"]) or "-",
                    item["gold"][0][:40],
                    (hybrid_hits[item["id"]][0].paper_id[:40] if hybrid_hits[item["id"]] else "-"),
                ]
                for item, rank in misses
            ]
            or [["(none)", "", "", "", "", ""]],
            "Hybrid misses (gold not in the top 5)",
        )
        for item, _ in misses:
            note(f"- {item['id']}: {item['query']}")

        def hybrid_first(it: dict[str, Any]) -> bool:
            return rank_of(ranked["hybrid"][it["id"]], it["gold"]) == 1

        not_first = sum(1 for it in items if not hybrid_first(it))
        better = {
            mode: sum(
                1
                for it in items
                if rank_of(ranked[mode][it["id"]], it["gold"]) == 1 and not hybrid_first(it)
            )
            for mode in ("dense", "lexical")
        }
        note(
            f"\nhybrid rank > 1 on {not_first} of {len(items)} questions; of those, dense alone "
            f"had it first on {better['dense']}, BM25 alone on {better['lexical']}"
        )
        if os.environ.get("RA_BENCH_VERBOSE"):
            for it in items:
                ranks = [rank_of(ranked[m][it["id"]], it["gold"]) for m in MODES]
                note(f"{it['id']}: dense {ranks[0]}, bm25 {ranks[1]}, hybrid {ranks[2]}")


if __name__ == "__main__":
    main()
