"""`Assistant`: the one API the CLI, the TUI and the eval harness use.

One turn: (condense a follow-up into a standalone question) -> search -> number the
sources one per paper -> fit the prompt to the budget -> stream the answer -> check the
citations -> save the turn. Everything is synchronous; the TUI calls it from a worker
thread and stops a turn with `cancel`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from assistant import prompts
from assistant.answer import Answer, Usage
from assistant.budget import (
    BuiltPrompt,
    SourceCandidate,
    answer_budget,
    build_prompt,
    message_tokens,
    render_candidate,
)
from assistant.chat.base import ChatMessage, ChatModel, Finish, TextDelta, complete
from assistant.chat.registry import make_chat_model
from assistant.citations import check_citations, strip_markers, unsupported_citations
from assistant.config import Settings
from assistant.errors import AssistantError, ModelError, PaperNotFound
from assistant.history import Conversation, ConversationInfo, HistoryStore
from retrieval.errors import RetrievalError
from retrieval.tokens import count_tokens, truncate_tokens

if TYPE_CHECKING:
    from retrieval.index import IngestReport, PaperIndex, Progress
    from retrieval.models import Paper, SearchHit

DeltaCallback = Callable[[str], None]
HISTORY_ANSWER_TOKENS = 300  # a past answer as given back to the model
CONDENSE_TURNS = 3
CONDENSE_MAX_TOKENS = 96
_ABSTAIN = re.compile(
    r"\b(do(es)? not|don't|doesn't)\s+(cover|address|discuss|answer|mention)\b|\bnot covered\b",
    re.IGNORECASE,
)


class _Clock:
    """Stage timings in milliseconds, plus the time spent inside the model."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.model_s = 0.0

    def ms_since_start(self) -> float:
        return (time.perf_counter() - self.start) * 1000

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(
                self.timings.get(name, 0.0) + (time.perf_counter() - t0) * 1000, 3
            )


class Assistant:
    """Grounded, cited answers and summaries over the paper index, with saved history."""

    def __init__(
        self,
        settings: Settings,
        *,
        index: PaperIndex | None = None,
        model: ChatModel | None = None,
        history: HistoryStore | None = None,
    ) -> None:
        self.settings = settings
        self._index = index
        self._model = model
        self._history = history
        self._lock = threading.RLock()

    # ------------------------------------------------------------ lazy parts

    @property
    def index(self) -> PaperIndex:
        """The paper index (opened on first use)."""
        with self._lock:
            if self._index is None:
                from retrieval.index import PaperIndex

                self._index = PaperIndex(self.settings.retrieval())
            return self._index

    @property
    def model(self) -> ChatModel:
        """The chat model (made on first use from the settings)."""
        with self._lock:
            if self._model is None:
                self._model = make_chat_model(self.settings)
            return self._model

    @property
    def history(self) -> HistoryStore:
        """The conversation store under the data directory."""
        with self._lock:
            if self._history is None:
                key = self.settings.openai_api_key
                secrets = [key.get_secret_value()] if key else []
                self._history = HistoryStore.for_home(self.settings.home, secrets=secrets)
            return self._history

    @property
    def model_name(self) -> str:
        """The name of the current model (without creating it)."""
        return self._model.name if self._model is not None else self.settings.resolved_model

    def set_model(self, name: str) -> None:
        """Switch model: `offline`, `offline:<misbehaviour>` or an endpoint model name."""
        model = make_chat_model(self.settings, name)
        with self._lock:
            self._model = model

    # ------------------------------------------------------------ index passthroughs

    def ensure_index(self, progress: Progress | None = None) -> IngestReport | None:
        """Index the shipped seeds when the index is empty; returns the report if it did."""
        with self._index_errors():
            if self.index.count() > 0:
                return None
            return self.index.ingest(progress=progress)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        mode: str = "hybrid",
    ) -> list[SearchHit]:
        """Papers for `query`, best first, one hit per paper."""
        with self._index_errors():
            hits: list[SearchHit] = self.index.search(
                query,
                k,
                year_from=year_from,
                year_to=year_to,
                author=author,
                mode=mode,  # type: ignore[arg-type]
            )
        return hits

    def papers(self) -> list[Paper]:
        """Every paper in the index."""
        with self._index_errors():
            return self.index.papers()

    def paper(self, paper_id: str) -> Paper | None:
        """One paper by id."""
        with self._index_errors():
            return self.index.get(paper_id)

    def corpus_size(self) -> int:
        """Number of papers in the index."""
        with self._index_errors():
            return self.index.count()

    def resolve_paper(self, ref: str) -> Paper:
        """The one paper `ref` names (paper id, arXiv id or title fragment).

        Raises `PaperNotFound` with candidates when it names none or several.
        """
        with self._index_errors():
            matches = self.index.resolve(ref)
        if len(matches) == 1:
            return matches[0]
        raise PaperNotFound(ref, matches[:5], ambiguous=bool(matches))

    @contextmanager
    def _index_errors(self) -> Iterator[None]:
        """Retrieval-layer failures (store, embeddings) as one-line AssistantErrors."""
        try:
            yield
        except RetrievalError as exc:
            raise AssistantError(exc.message, exc.hint, kind="index") from exc

    # ------------------------------------------------------------ conversations

    def new_conversation(self) -> str:
        """Start an empty conversation and return its id."""
        return self.history.new_conversation()

    def conversations(self) -> list[ConversationInfo]:
        """Saved conversations, most recent first."""
        return self.history.conversations()

    def conversation(self, conversation_id: str) -> Conversation:
        """One conversation with its turns and their Answers."""
        return self.history.conversation(conversation_id)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation."""
        self.history.delete_conversation(conversation_id)

    def export_markdown(self, conversation_id: str) -> str:
        """The conversation as Markdown, with a numbered reference list of cited papers."""
        from assistant.export import conversation_markdown

        def lookup(paper_id: str) -> Paper | None:
            try:
                return self.paper(paper_id)
            except AssistantError:  # the index is unavailable: use what the turns saved
                return None

        return conversation_markdown(self.conversation(conversation_id), lookup)

    # ------------------------------------------------------------ turns

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
    ) -> Answer:
        """A grounded, cited answer to `question` (a follow-up if `conversation_id` is given)."""
        question = _clean(question, "question")
        model = self.model

        def prepare(clock: _Clock, conversation: str) -> tuple[BuiltPrompt, str | None, Usage]:
            prior = self._prior_turns(conversation)
            standalone, usage = question, Usage()
            if prior:
                with clock.stage("condense"):
                    standalone, usage = self._condense(model, question, prior, clock, cancel)
            with clock.stage("retrieve"):
                candidates = self._candidates(standalone, k)
            with clock.stage("prompt"):
                shown = prompts.escape_data(standalone)
                built = self._build(
                    model,
                    lambda block: prompts.render("answer", sources=block, question=shown),
                    standalone,
                    candidates,
                    history=[(q, a) for q, a, _ in prior],
                )
            return built, standalone if standalone != question else None, usage

        return self._turn("answer", question, conversation_id, prepare, on_delta, cancel)

    def summarize(
        self,
        ref: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
    ) -> Answer:
        """A cited summary of one paper (paper id, arXiv id or title fragment).

        Raises `PaperNotFound` (with "did you mean" candidates) before anything is saved.
        """
        ref = _clean(ref, "paper reference")
        model = self.model
        started = time.perf_counter()
        paper = self.resolve_paper(ref)  # before the turn: a bad reference saves nothing
        resolve_ms = (time.perf_counter() - started) * 1000

        def prepare(clock: _Clock, conversation: str) -> tuple[BuiltPrompt, str | None, Usage]:
            clock.timings["retrieve"] = round(resolve_ms, 3)
            with clock.stage("retrieve"):
                candidates = [_candidate(paper, None, None)]
            with clock.stage("prompt"):
                built = self._build(
                    model,
                    lambda block: prompts.render("summary", sources=block),
                    paper.title,
                    candidates,
                )
            return built, None, Usage()

        return self._turn("summary", ref, conversation_id, prepare, on_delta, cancel)

    def summarize_topic(
        self,
        topic: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
    ) -> Answer:
        """A cited overview of what several papers say about `topic`."""
        topic = _clean(topic, "topic")
        model = self.model

        def prepare(clock: _Clock, conversation: str) -> tuple[BuiltPrompt, str | None, Usage]:
            with clock.stage("retrieve"):
                candidates = self._candidates(topic, k or max(self.settings.top_k, 5))
            with clock.stage("prompt"):
                shown = prompts.escape_data(topic)
                built = self._build(
                    model,
                    lambda block: prompts.render("topic_summary", sources=block, topic=shown),
                    topic,
                    candidates,
                )
            return built, None, Usage()

        return self._turn("topic_summary", topic, conversation_id, prepare, on_delta, cancel)

    # ------------------------------------------------------------ turn machinery

    def _turn(
        self,
        kind: str,
        question: str,
        conversation_id: str | None,
        prepare: Callable[[_Clock, str], tuple[BuiltPrompt, str | None, Usage]],
        on_delta: DeltaCallback | None,
        cancel: threading.Event | None,
    ) -> Answer:
        """Run one turn: save the question, prepare the prompt, stream, check, save."""
        clock = _Clock()
        model = self.model
        history = self.history
        conversation = conversation_id or history.new_conversation()
        turn_id = history.start_turn(conversation, kind, question, model.name)
        try:
            built, standalone, condense_usage = prepare(clock, conversation)
            text, finish = self._stream(model, built, clock, on_delta, cancel)
            check = check_citations(text, built.sources)
            clock.timings["total"] = round(clock.ms_since_start(), 3)
            clock.timings.setdefault("first_token", clock.timings["total"])
            clock.timings["model"] = round(clock.model_s * 1000, 3)
            clock.timings["overhead"] = round(clock.timings["total"] - clock.timings["model"], 3)
            answer = Answer(
                kind=kind,
                question=question,
                standalone_query=standalone,
                answer=text,
                citations=check.citations,
                invalid_citations=check.invalid,
                unsupported_citations=unsupported_citations(text, built.sources),
                sources=built.sources,
                model=model.name,
                usage=Usage(
                    prompt_tokens=finish.usage.prompt_tokens + condense_usage.prompt_tokens,
                    completion_tokens=finish.usage.completion_tokens
                    + condense_usage.completion_tokens,
                ),
                timings_ms=clock.timings,
                finish_reason=finish.finish_reason,
                incomplete=finish.incomplete,
                abstained=not check.citations and bool(_ABSTAIN.search(text)),
                conversation_id=conversation,
                turn_id=turn_id,
                error=finish.error,
            )
        except AssistantError as exc:
            history.fail_turn(turn_id, exc.message)
            raise
        except BaseException as exc:
            history.fail_turn(turn_id, f"interrupted: {type(exc).__name__}")
            raise
        history.finish_turn(turn_id, answer)
        return answer

    def _stream(
        self,
        model: ChatModel,
        built: BuiltPrompt,
        clock: _Clock,
        on_delta: DeltaCallback | None,
        cancel: threading.Event | None,
    ) -> tuple[str, Finish]:
        """Stream the answer; a failure after some text keeps it, marked incomplete."""
        parts: list[str] = []
        finish: Finish | None = None
        callback_s = 0.0
        t0 = time.perf_counter()
        stream = model.stream(built.messages, max_tokens=self._answer_tokens(model), cancel=cancel)
        try:
            for event in stream:
                if isinstance(event, TextDelta):
                    if not parts:
                        clock.timings["first_token"] = round(clock.ms_since_start(), 3)
                    parts.append(event.text)
                    if on_delta is not None:
                        c0 = time.perf_counter()
                        on_delta(event.text)
                        callback_s += time.perf_counter() - c0
                else:
                    finish = event
                if cancel is not None and cancel.is_set() and finish is None:
                    finish = _partial_finish(built, parts, "cancelled", None)
                    break
        except ModelError as exc:
            if not parts:
                raise
            finish = _partial_finish(built, parts, "error", exc.message)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            clock.model_s += time.perf_counter() - t0 - callback_s
        if finish is None:
            finish = _partial_finish(built, parts, "error", "the model stream ended early")
        return "".join(parts), finish

    def _answer_tokens(self, model: ChatModel) -> int:
        return answer_budget(model.context_window, self.settings.max_answer_tokens)

    def _build(
        self,
        model: ChatModel,
        render_task: Callable[[str], str],
        question: str,
        candidates: list[SourceCandidate],
        history: list[tuple[str, str]] | None = None,
    ) -> BuiltPrompt:
        return build_prompt(
            system=prompts.render("system"),
            render_task=render_task,
            question=question,
            candidates=candidates,
            render_source=render_candidate,
            history=history or [],
            context_window=model.context_window,
            answer_tokens=self._answer_tokens(model),
            model_name=model.name,
        )

    def _candidates(self, query: str, k: int | None) -> list[SourceCandidate]:
        """Search hits as source candidates, one per paper, with the paper's full abstract."""
        k = max(1, k or self.settings.top_k)
        with self._index_errors():
            hits = self.index.search(query, k)
            return [_candidate(self.index.get(h.paper_id), h, h.score) for h in hits]

    def _prior_turns(self, conversation_id: str) -> list[tuple[str, str, list[str]]]:
        """Finished turns of a conversation: (question, answer without markers, cited titles)."""
        turns: list[tuple[str, str, list[str]]] = []
        for turn in self.history.conversation(conversation_id).turns:
            if turn.status != "done" or turn.answer is None:
                continue
            answer = truncate_tokens(strip_markers(turn.answer.answer), HISTORY_ANSWER_TOKENS)
            titles = list(dict.fromkeys(c.title for c in turn.answer.citations))
            question = turn.answer.standalone_query or turn.question
            turns.append((question, answer, titles))
        return turns

    def _condense(
        self,
        model: ChatModel,
        question: str,
        prior: list[tuple[str, str, list[str]]],
        clock: _Clock,
        cancel: threading.Event | None,
    ) -> tuple[str, Usage]:
        """Rewrite a follow-up as a standalone question using the last few turns.

        Uses as many of the last CONDENSE_TURNS turns as fit the model's window; when not
        even one fits, the follow-up is used as it is.
        """
        system = ChatMessage(role="system", content=prompts.render("system"))
        messages: list[ChatMessage] | None = None
        for n in range(min(CONDENSE_TURNS, len(prior)), 0, -1):
            conversation = "\n\n".join(
                prompts.render(
                    "history_turn",
                    question=prompts.escape_data(q),
                    answer=prompts.escape_data(" ".join(truncate_tokens(a, 120).split())),
                    papers="; ".join(titles) or "none",
                )
                for q, a, titles in prior[-n:]
            )
            user = prompts.render(
                "condense", conversation=conversation, question=prompts.escape_data(question)
            )
            candidate = [system, ChatMessage(role="user", content=user)]
            if message_tokens(candidate) + CONDENSE_MAX_TOKENS <= model.context_window:
                messages = candidate
                break
        if messages is None:
            return question, Usage()
        t0 = time.perf_counter()
        text, finish = complete(model, messages, max_tokens=CONDENSE_MAX_TOKENS, cancel=cancel)
        clock.model_s += time.perf_counter() - t0
        lines = [ln.strip().strip('"').strip() for ln in text.strip().splitlines() if ln.strip()]
        rewritten = strip_markers(lines[0]) if lines else ""
        if not rewritten or count_tokens(rewritten) > 3 * count_tokens(question) + 60:
            rewritten = question
        return rewritten, finish.usage


def _clean(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise AssistantError(f"the {what} is empty")
    return text


def _candidate(paper: Paper | None, hit: SearchHit | None, score: float | None) -> SourceCandidate:
    """A source candidate from a paper (preferred: its full abstract) or a search hit."""
    if paper is not None:
        text = paper.abstract or (hit.snippet if hit else "")
        return SourceCandidate(
            paper_id=paper.paper_id,
            title=paper.title,
            text=text,
            arxiv_id=paper.arxiv_id,
            year=paper.year,
            authors=list(paper.authors),
            score=score,
        )
    assert hit is not None
    return SourceCandidate(
        paper_id=hit.paper_id,
        title=hit.title,
        text="\n".join(hit.matched_chunks) or hit.snippet,
        arxiv_id=hit.arxiv_id,
        year=hit.year,
        authors=list(hit.authors),
        score=score,
    )


def _partial_finish(built: BuiltPrompt, parts: list[str], reason: str, error: str | None) -> Finish:
    usage = Usage(prompt_tokens=built.prompt_tokens, completion_tokens=count_tokens("".join(parts)))
    return Finish(usage=usage, finish_reason=reason, incomplete=True, error=error)
