"""Run a dataset through the orchestration API (`assistant.orchestrator.Assistant`) and score it.

Items are grouped into conversations (a root item and its follow-ups, in order); the
conversations run on a thread pool, each worker thread with its own `Assistant` sharing one
index. A rate-limited model call (`ModelError(kind="rate_limit")`) is retried with
exponential backoff. Retrieval is scored on a direct search of the standalone query with the
same index the assistant used, so a retrieval perturbation shows in the retrieval metrics.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from evals.dataset import Dataset, EvalItem
from evals.metrics import SUPPORT_THRESHOLD
from evals.perturb import RANDOM_SOURCES, RandomSourcesIndex, warm_up
from evals.scoring import ItemResult, ItemScores, Judge, SourceRow, item_quality, score_item

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.config import Settings

__all__ = [
    "RANDOM_SOURCES",
    "AssistantLike",
    "ItemResult",
    "ItemScores",
    "ItemTiming",
    "Judge",
    "RandomSourcesIndex",
    "RunResult",
    "SourceRow",
    "build_assistant_factory",
    "call_with_retry",
    "item_quality",
    "make_llm_judge",
    "run_items",
    "score_item",
    "warm_up",
]

T = TypeVar("T")
RETRIEVAL_K = 10
# Model failures worth another attempt: rate limits (with backoff) and streams that ended
# without a finish reason (servers that drop a stream under load end it with [DONE] only).
RETRY_KINDS = frozenset({"rate_limit", "interrupted"})
CUT_RETRIES = 2  # extra attempts for an answer whose stream was cut


class StreamCut(Exception):
    """An answer came back incomplete because its stream was cut (retried)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.error or "the model stream ended without a finish reason")
        self.answer = answer


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


# --- running ---------------------------------------------------------------------------------


def _retryable(exc: BaseException, attempt: int, max_attempts: int) -> bool:
    """Rate limits are retried up to `max_attempts`; cut or interrupted streams up to
    1 + CUT_RETRIES attempts. The error's kind decides (never its class name)."""
    kind = getattr(exc, "kind", None)
    if kind == "rate_limit":
        return attempt < max_attempts
    cut = isinstance(exc, StreamCut) or kind in RETRY_KINDS
    return cut and attempt < min(max_attempts, 1 + CUT_RETRIES)


def call_with_retry(
    fn: Callable[[], T],
    *,
    max_attempts: int = 6,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call `fn`, retrying rate limits and cut streams with exponential backoff and jitter.

    Returns the result and the number of attempts. Other errors propagate at once.
    """
    attempt = 1
    while True:
        try:
            return fn(), attempt
        except Exception as exc:
            if not _retryable(exc, attempt, max_attempts):
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            sleep(delay * (0.75 + 0.5 * random.random()))
            attempt += 1


def _cut(answer: Answer) -> bool:
    """True when the stream ended early (no finish reason), not by length or cancel."""
    return answer.incomplete and answer.finish_reason not in ("length", "cancelled")


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

        cuts = [0]

        def call() -> Answer:
            if item.kind == "summary":
                got = bot.summarize(item.request)
            elif item.kind == "topic_summary":
                got = bot.summarize_topic(item.request)
            else:
                got = bot.ask(item.question, conversation_id=conversation)
            if _cut(got) and cuts[0] < CUT_RETRIES and misbehave is None:
                cuts[0] += 1
                raise StreamCut(got)
            return got

        try:
            # A requested fault (--misbehave) is deterministic: retrying it proves nothing.
            tries = 6 if misbehave is None else 1
            got, attempts = call_with_retry(call, sleep=retry_sleep, max_attempts=tries)
            answer = got
            error = got.error or ("the model stream was cut" if _cut(got) else None)
        except StreamCut as exc:  # out of attempts: score the partial answer, as an error
            answer = exc.answer
            error = str(exc)
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


# --- wiring to the real assistant ---


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

    The product's judge (`assistant.support.model_judge`), each call retried on rate limits
    and cut streams; verdicts are cached per (sentence, sources).
    """
    from assistant.chat.registry import make_chat_model
    from assistant.support import model_judge

    model = make_chat_model(settings, model_name)
    return model_judge(model, call=lambda ask: call_with_retry(ask)[0])
