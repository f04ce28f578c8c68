"""Run a dataset through the orchestration API (`assistant.orchestrator.Assistant`) and score it.

Items are grouped into conversations (a root item and its follow-ups, in order); the
conversations run on a thread pool, each worker thread with its own `Assistant` sharing one
index. A rate-limited model call (`ModelError(kind="rate_limit")`) is retried with
exponential backoff. Retrieval is scored on a direct search of the standalone query with the
same index the assistant used, so a retrieval perturbation shows in the retrieval metrics.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from evals.dataset import Dataset, EvalItem
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
    from assistant.answer import Answer, SourceGiven
    from assistant.config import Settings

T = TypeVar("T")
_SENTENCE_TAG = re.compile(r"<\s*(/?)\s*sentence\b", re.IGNORECASE)
RETRIEVAL_K = 10
RANDOM_SOURCES = "random-sources"


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
    prompt_tokens: int = 0
    completion_tokens: int = 0
    scores: ItemScores = Field(default_factory=ItemScores)


class ItemTiming(BaseModel):
    """Wall-clock data of one item (not deterministic)."""

    id: str
    timings_ms: dict[str, float] = Field(default_factory=dict)
    harness_ms: float = 0.0
    attempts: int = 1


class RunResult(BaseModel):
    """A whole run: item results in dataset order, plus timings kept apart."""

    dataset: str
    dataset_sha256: str
    model: str
    misbehave: str | None = None
    judge: str | None = None
    items: list[ItemResult]
    timings: list[ItemTiming]
    wall_seconds: float
    concurrency: int


class AssistantLike(Protocol):
    """The part of `assistant.orchestrator.Assistant` the harness uses."""

    def ask(self, question: str, *, conversation_id: str | None = None) -> Answer: ...

    def summarize(self, ref: str) -> Answer: ...

    def summarize_topic(self, topic: str) -> Answer: ...

    def new_conversation(self) -> str: ...


class SearchIndex(Protocol):
    """The part of `retrieval.index.PaperIndex` the harness uses for retrieval scores."""

    def search(self, query: str, k: int = 5) -> list[Any]: ...


Judge = Callable[[str, list[str]], bool]


# --- the random-sources perturbation -------------------------------------------------------


class RandomSourcesIndex:
    """Wraps a `PaperIndex`: `search` returns papers drawn at random (seeded by the query).

    Used by `--misbehave random-sources` to show that retrieval, citation recall and fact
    metrics fall when the sources are unrelated to the question. Everything else delegates.
    """

    def __init__(self, index: Any) -> None:
        self._index = index
        self._papers: list[Any] | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def _all(self) -> list[Any]:
        with self._lock:
            if self._papers is None:
                self._papers = sorted(self._index.papers(), key=lambda p: p.paper_id)
            return self._papers

    def warm_up(self) -> None:
        """Open the wrapped index and load the paper list (before threads start)."""
        warm_up(self._index)
        self._all()

    def search(self, query: str, k: int = 5, **_: Any) -> list[Any]:
        from retrieval.models import SearchHit

        papers = self._all()
        seed = int(hashlib.sha256(query.encode()).hexdigest()[:16], 16)
        picked = random.Random(seed).sample(papers, min(k, len(papers)))
        return [
            SearchHit(
                paper_id=p.paper_id,
                title=p.title,
                arxiv_id=p.arxiv_id,
                year=p.year,
                authors=p.authors,
                score=1.0 / (i + 1),
                snippet=p.abstract[:280],
                matched_chunks=[f"{p.title}\n{p.abstract}"],
                paper=p,
            )
            for i, p in enumerate(picked)
        ]


def warm_up(index: Any) -> None:
    """Open the store, load the embedding model and the search state in this thread.

    The retrieval layer opens Chroma lazily; doing it once up front keeps worker threads
    from racing to open it.
    """
    custom = getattr(index, "warm_up", None)
    if callable(custom):
        custom()
    else:
        index.search("warm up", k=1)


# --- scoring ---------------------------------------------------------------------------------


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
            verdicts = [
                bool(x.markers)
                and judge(x.text, [texts[m] for m in dict.fromkeys(x.markers) if m in texts])
                for x in support.sentences
            ]
            s.support_judge = _round(sum(verdicts) / len(verdicts))
    elif item.answerable:
        s.support = 0.0  # a false abstention supports nothing

    s.fact_recall = _round(fact_recall(text, item.expected_facts))
    result.missing_facts = [f for f in item.expected_facts if fact_recall(text, [f]) == 0.0]
    if not item.answerable:
        s.abstention_correct = answer.abstained
    s.quality = _round(item_quality(item, s)) or 0.0
    return result


def source_text(src: SourceGiven) -> str:
    """What a citation can be checked against: the source's metadata and its text."""
    meta = [src.title, ", ".join(src.authors), str(src.year or ""), src.arxiv_id or ""]
    return "\n".join([*(m for m in meta if m), src.text])


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


# --- running ---------------------------------------------------------------------------------


def _is_rate_limit(exc: BaseException) -> bool:
    kind = getattr(exc, "kind", None)
    return kind == "rate_limit" or "ratelimit" in type(exc).__name__.lower()


def call_with_retry(
    fn: Callable[[], T],
    *,
    max_attempts: int = 6,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call `fn`, retrying rate-limit failures with exponential backoff and jitter.

    Returns the answer and the number of attempts. Other errors propagate at once.
    """
    attempt = 1
    while True:
        try:
            return fn(), attempt
        except Exception as exc:
            if not _is_rate_limit(exc) or attempt >= max_attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            sleep(delay * (0.75 + 0.5 * random.random()))
            attempt += 1


def _retrieval_for(item: EvalItem, answer: Answer | None, index: SearchIndex) -> list[str] | None:
    """The ranked paper ids of a direct search of the standalone query (None for summaries)."""
    if item.kind == "summary":
        return None
    query = item.request
    if item.kind == "ask" and answer is not None and answer.standalone_query:
        query = answer.standalone_query
    hits = index.search(query, k=RETRIEVAL_K)
    return [h.paper_id for h in hits]


def run_items(
    dataset: Dataset,
    make_assistant: Callable[[], AssistantLike],
    index: SearchIndex,
    *,
    model: str,
    concurrency: int = 1,
    misbehave: str | None = None,
    judge: Judge | None = None,
    judge_name: str | None = None,
    support_threshold: float = SUPPORT_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
    retry_sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Run every item (conversations in parallel, turns in order) and score it."""
    local = threading.local()
    done_lock = threading.Lock()
    done = [0]
    total = len(dataset.items)

    def assistant() -> AssistantLike:
        if not hasattr(local, "assistant"):
            local.assistant = make_assistant()
        inst: AssistantLike = local.assistant
        return inst

    def run_one(item: EvalItem, conversation: str | None) -> tuple[ItemResult, ItemTiming]:
        bot = assistant()
        started = time.perf_counter()
        answer: Answer | None = None
        error: str | None = None
        attempts = 1

        def call() -> Answer:
            if item.kind == "summary":
                return bot.summarize(item.request)
            if item.kind == "topic_summary":
                return bot.summarize_topic(item.request)
            return bot.ask(item.question, conversation_id=conversation)

        try:
            got, attempts = call_with_retry(call, sleep=retry_sleep)
            answer = got
            error = got.error
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        elapsed = 1000 * (time.perf_counter() - started)
        retrieved = _retrieval_for(item, answer, index)
        result = score_item(
            item,
            answer,
            retrieved,
            error=error,
            judge=judge,
            support_threshold=support_threshold,
        )
        timing = ItemTiming(
            id=item.id,
            timings_ms=dict(answer.timings_ms) if answer is not None else {},
            harness_ms=round(elapsed, 3),
            attempts=attempts,
        )
        with done_lock:
            done[0] += 1
            if progress is not None:
                progress(done[0], total)
        return result, timing

    def run_chain(chain: list[EvalItem]) -> list[tuple[ItemResult, ItemTiming]]:
        conversation = assistant().new_conversation() if len(chain) > 1 else None
        return [run_one(item, conversation) for item in chain]

    warm_up(index)
    started = time.perf_counter()
    chains = dataset.chains()
    outputs: dict[str, tuple[ItemResult, ItemTiming]] = {}
    workers = max(1, concurrency)
    if workers == 1:
        chain_results = [run_chain(chain) for chain in chains]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ra-eval") as pool:
            chain_results = list(pool.map(run_chain, chains))
    for pairs in chain_results:
        for result, timing in pairs:
            outputs[result.id] = (result, timing)
    ordered = [outputs[item.id] for item in dataset.items]
    return RunResult(
        dataset=dataset.name,
        dataset_sha256=dataset.sha256,
        model=model,
        misbehave=misbehave,
        judge=judge_name,
        items=[r for r, _ in ordered],
        timings=[t for _, t in ordered],
        wall_seconds=round(time.perf_counter() - started, 3),
        concurrency=workers,
    )


# --- wiring to the real assistant ------------------------------------------------------------


def build_assistant_factory(
    settings: Settings, index: Any, model_name: str, history_path: Path
) -> Callable[[], AssistantLike]:
    """A factory of `Assistant`s on the shared index with the named chat model.

    Conversations go to their own history store at `history_path` (not the user's).
    """
    from assistant.chat.registry import make_chat_model
    from assistant.history import HistoryStore
    from assistant.orchestrator import Assistant

    history = HistoryStore(history_path)

    def make() -> AssistantLike:
        model = make_chat_model(settings, model_name)
        bot: AssistantLike = Assistant(settings, index=index, model=model, history=history)
        return bot

    return make


def make_llm_judge(settings: Settings, model_name: str) -> Judge:
    """An LLM support judge using `prompts/judge.txt` (for a real, non-offline model).

    Verdicts are cached per (sentence, sources) so a re-asked sentence costs one call.
    """
    from assistant.chat.base import ChatMessage, complete
    from assistant.chat.registry import make_chat_model
    from assistant.prompts import escape_data, render

    model = make_chat_model(settings, model_name)

    def _judge_data(text: str) -> str:
        # Data cannot open or close the judge's <source>/<sentence> blocks.
        return _SENTENCE_TAG.sub(lambda m: f"&lt;{m.group(1)}sentence", escape_data(text))

    cache: dict[tuple[str, tuple[str, ...]], bool] = {}
    lock = threading.Lock()

    def judge(sentence: str, sources: list[str]) -> bool:
        if not sources:
            return False
        key = (sentence, tuple(sources))
        with lock:
            if key in cache:
                return cache[key]
        blocks = "\n\n".join(
            f'<source id="{n}">\n{_judge_data(text)}\n</source>'
            for n, text in enumerate(sources, start=1)
        )
        prompt = render("judge", sources=blocks, sentence=_judge_data(sentence))
        messages = [ChatMessage(role="user", content=prompt)]

        def ask() -> str:
            text, _finish = complete(model, messages, max_tokens=5)
            return text

        verdict_text, _ = call_with_retry(ask)
        verdict = parse_verdict(verdict_text)
        with lock:
            cache[key] = verdict
        return verdict

    return judge


def parse_verdict(text: str) -> bool:
    """True for SUPPORTED, False for NOT_SUPPORTED (or anything unclear)."""
    word = text.strip().upper().replace(" ", "_")
    return word.startswith("SUPPORTED")
