"""Scoring one eval item: retrieval, citations, support, facts, lists and abstention.

Every value here is deterministic for the offline model (docs/evals.md, "Metrics");
wall-clock data lives in `evals.runner.ItemTiming`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from assistant.support import source_text
from evals.dataset import EvalItem
from evals.metrics import (
    SUPPORT_THRESHOLD,
    SentenceSupport,
    answer_support,
    citation_validity,
    fact_recall,
    ndcg_at_k,
    parse_markers,
    precision_recall,
    recall_at_k,
    reciprocal_rank,
)

if TYPE_CHECKING:
    from assistant.answer import Answer

# judge(sentence, texts of the sources it cites) -> supported? (may raise: counted)
Judge = Callable[[str, list[str]], bool]


class ItemScores(BaseModel):
    """Per-item metric values; None where a metric does not apply (docs/evals.md)."""

    recall_at_5: float | None = None
    recall_at_10: float | None = None
    mrr: float | None = None
    ndcg_at_10: float | None = None
    source_recall: float | None = None
    valid_markers: int = 0
    invalid_markers: int = 0
    citation_validity: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    claims: int = 0
    supported_claims: int = 0
    support: float | None = None
    support_judge: float | None = None
    fact_recall: float | None = None
    # complete-list items: share of the gold list the answer cites
    list_recall: float | None = None
    # judge calls that failed (counted, never scored as "not supported")
    judge_errors: int = 0
    abstained: bool = False
    abstention_correct: bool | None = None
    error: bool = False
    quality: float = 0.0


class SourceRow(BaseModel):
    """A source as given to the model (number, paper id, title)."""

    number: int
    paper_id: str
    title: str


class ItemResult(BaseModel):
    """One item's run: what was asked, what came back, and its scores.

    Everything here is deterministic for the offline model; wall-clock data lives in
    `ItemTiming` (written to timings.json, never to report.json).
    """

    id: str
    category: str
    kind: str
    question: str
    answerable: bool
    follow_up_of: str | None = None
    gold: list[str] = Field(default_factory=list)
    expected_facts: list[str] = Field(default_factory=list)
    answer: str = ""
    standalone_query: str | None = None
    sources: list[SourceRow] = Field(default_factory=list)
    cited: list[str] = Field(default_factory=list)
    invalid_citations: list[int] = Field(default_factory=list)
    retrieved: list[str] = Field(default_factory=list)
    missing_facts: list[str] = Field(default_factory=list)
    unsupported: list[SentenceSupport] = Field(default_factory=list)
    abstained: bool = False
    incomplete: bool = False
    error: str | None = None
    judge_error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    scores: ItemScores = Field(default_factory=ItemScores)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def score_item(
    item: EvalItem,
    answer: Answer | None,
    retrieved: Sequence[str] | None,
    *,
    error: str | None = None,
    judge: Judge | None = None,
    support_threshold: float = SUPPORT_THRESHOLD,
) -> ItemResult:
    """Score one item from its `Answer` (None when the call failed) and retrieval ranking."""
    result = ItemResult(
        id=item.id,
        category=item.category,
        kind=item.kind,
        question=item.question,
        answerable=item.answerable,
        follow_up_of=item.follow_up_of,
        gold=list(item.gold),
        expected_facts=list(item.expected_facts),
        retrieved=list(retrieved or []),
        error=error,
    )
    s = result.scores
    gold = set(item.gold)
    if retrieved is not None and gold:
        s.recall_at_5 = _round(recall_at_k(retrieved, gold, 5))
        s.recall_at_10 = _round(recall_at_k(retrieved, gold, 10))
        s.mrr = _round(reciprocal_rank(retrieved, gold))
        s.ndcg_at_10 = _round(ndcg_at_k(retrieved, gold, 10))

    s.error = error is not None
    if answer is None:
        s.error = True
        if item.answerable:
            s.citation_precision = s.citation_recall = 0.0
            s.fact_recall = 0.0 if item.expected_facts else None
            s.support = 0.0
            s.list_recall = 0.0 if item.complete_list else None
        else:
            s.abstention_correct = False
        result.missing_facts = list(item.expected_facts)
        s.quality = 0.0
        return result

    text = answer.answer
    result.answer = text
    result.standalone_query = answer.standalone_query
    result.sources = [
        SourceRow(number=src.number, paper_id=src.paper_id, title=src.title)
        for src in answer.sources
    ]
    result.invalid_citations = list(answer.invalid_citations)
    result.abstained = answer.abstained
    result.incomplete = answer.incomplete
    result.prompt_tokens = answer.usage.prompt_tokens
    result.completion_tokens = answer.usage.completion_tokens
    s.abstained = answer.abstained

    by_number = {src.number: src for src in answer.sources}
    markers = parse_markers(text)
    valid = [m for m in markers if m in by_number]
    invalid_seen = {m for m in markers if m not in by_number}
    # Markers the orchestration reported as invalid but rewrote out of the text still count.
    extra_invalid = [m for m in answer.invalid_citations if m not in invalid_seen]
    s.valid_markers = len(valid)
    s.invalid_markers = len(markers) - len(valid) + len(extra_invalid)
    s.citation_validity = _round(citation_validity(s.valid_markers, s.invalid_markers))
    cited = list(dict.fromkeys(by_number[m].paper_id for m in valid))
    for citation in answer.citations:
        if citation.marker in by_number and citation.paper_id not in cited:
            cited.append(citation.paper_id)
    result.cited = cited

    if gold and item.complete_list:
        s.list_recall = _round(len(gold & set(cited)) / len(gold))
    if gold:
        in_sources = {src.paper_id for src in answer.sources}
        s.source_recall = _round(len(gold & in_sources) / len(gold))
        precision, recall = precision_recall(cited, gold)
        s.citation_precision, s.citation_recall = _round(precision), _round(recall)

    if not answer.abstained:
        texts = {n: source_text(src) for n, src in by_number.items()}
        support = answer_support(text, texts, threshold=support_threshold)
        s.claims, s.supported_claims = support.n_claims, support.n_supported
        s.support = _round(support.share)
        result.unsupported = [x for x in support.sentences if not x.supported]
        if judge is not None and support.sentences:
            verdicts: list[bool] = []
            for x in support.sentences:
                cited_texts = [texts[m] for m in dict.fromkeys(x.markers) if m in texts]
                if not cited_texts:
                    verdicts.append(False)
                    continue
                try:
                    verdicts.append(judge(x.text, cited_texts))
                except Exception as exc:  # counted as an error, not as "not supported"
                    s.judge_errors += 1
                    result.judge_error = f"{type(exc).__name__}: {exc}"
            if verdicts:
                s.support_judge = _round(sum(verdicts) / len(verdicts))
    elif item.answerable:
        s.support = 0.0  # a false abstention supports nothing

    s.fact_recall = _round(fact_recall(text, item.expected_facts))
    result.missing_facts = [f for f in item.expected_facts if fact_recall(text, [f]) == 0.0]
    if not item.answerable:
        s.abstention_correct = answer.abstained
    s.quality = _round(item_quality(item, s)) or 0.0
    return result


def item_quality(item: EvalItem, s: ItemScores) -> float:
    """One number per item to rank the worst items (docs/evals.md, "Worst items")."""
    if not item.answerable:
        return 1.0 if s.abstained else 0.0
    if s.abstained:
        return 0.0
    parts = [s.recall_at_5, s.citation_recall, s.support, s.fact_recall]
    if s.citation_validity is not None:
        parts.append(s.citation_validity)
    vals = [p for p in parts if p is not None]
    return sum(vals) / len(vals) if vals else 0.0
