"""Metric functions: retrieval, citations, support, facts, abstention and cost (docs/evals.md).

Everything here is pure and deterministic; the formulas are documented in docs/evals.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

from assistant.support import (
    MIN_CLAIM_WORDS,
    SUPPORT_THRESHOLD,
    Sentence,
    SentenceSupport,
    SupportResult,
    answer_support,
    content_words,
    parse_markers,
    split_sentences,
    support_score,
)

__all__ = [
    "HEADLINE",
    "MIN_CLAIM_WORDS",
    "SUPPORT_THRESHOLD",
    "MetricSpec",
    "Sentence",
    "SentenceSupport",
    "SupportResult",
    "answer_support",
    "citation_validity",
    "content_words",
    "fact_present",
    "fact_recall",
    "mean",
    "ndcg_at_k",
    "parse_markers",
    "percentile",
    "precision_recall",
    "recall_at_k",
    "reciprocal_rank",
    "split_sentences",
    "support_score",
]

# --- retrieval ---------------------------------------------------------------------------


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """|gold ∩ top-k| / |gold| (0 when gold is empty)."""
    if not gold:
        return 0.0
    top = set(ranked[:k])
    return sum(1 for g in set(gold) if g in top) / len(set(gold))


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str]) -> float:
    """1 / rank of the first gold id in `ranked` (0 when none is there)."""
    wanted = set(gold)
    for rank, pid in enumerate(ranked, start=1):
        if pid in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float] | Collection[str], k: int) -> float:
    """nDCG@k with linear gains (binary when `gains` is a set): DCG / ideal DCG.

    DCG@k = sum over ranks i = 1..k of gain(doc_i) / log2(i + 1); the ideal ranking sorts the
    gold gains descending. Same definition as trec_eval / pytrec_eval used by BEIR.
    """
    gain_of: Mapping[str, float] = (
        gains if isinstance(gains, Mapping) else dict.fromkeys(gains, 1.0)
    )
    dcg = 0.0
    seen: set[str] = set()
    for i, pid in enumerate(ranked[:k], start=1):
        if pid in seen:
            continue
        seen.add(pid)
        dcg += gain_of.get(pid, 0.0) / math.log2(i + 1)
    ideal = sorted((g for g in gain_of.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


# --- citations and support -----------------------------------------------------------------


def citation_validity(valid: int, invalid: int) -> float | None:
    """valid / (valid + invalid); None when the answer has no marker at all."""
    total = valid + invalid
    return valid / total if total else None


def precision_recall(cited: Collection[str], gold: Collection[str]) -> tuple[float, float]:
    """Citation precision |C ∩ G| / |C| (0 when nothing is cited) and recall |C ∩ G| / |G|."""
    c, g = set(cited), set(gold)
    hit = len(c & g)
    precision = hit / len(c) if c else 0.0
    recall = hit / len(g) if g else 0.0
    return precision, recall


# --- facts ------------------------------------------------------------------------------


def _norm(text: str) -> str:
    text = text.replace("\\", "").replace("$", "")
    return re.sub(r"\s+", " ", text).strip().lower()


def fact_present(answer: str, fact: str) -> bool:
    """Case-insensitive substring match after collapsing white space (and `\\`, `$` of TeX)."""
    return _norm(fact) in _norm(answer)


def fact_recall(answer: str, facts: Sequence[str]) -> float | None:
    """Share of expected facts present in the answer (None when no fact is expected)."""
    if not facts:
        return None
    return sum(1 for f in facts if fact_present(answer, f)) / len(facts)


# --- aggregation ------------------------------------------------------------------------


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values (None when there is none)."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation, like numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# --- the headline metrics ----------------------------------------------------------------

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
    MetricSpec(key="list_recall", label="List completeness (gold list cited)"),
    MetricSpec(key="abstention_accuracy", label="Abstention accuracy (unanswerable)"),
    MetricSpec(key="false_abstention_rate", label="False abstention rate", better="lower"),
    MetricSpec(key="error_rate", label="Error rate", better="lower"),
)
