"""`Assistant`: the one API the CLI, the TUI and the eval harness use.

One turn: (condense a follow-up into a standalone question) -> search -> number the
sources one per paper -> fit the prompt to the budget -> stream the answer -> check the
citations -> save the turn. Everything is synchronous; the TUI calls it from a worker
thread and stops a turn with `cancel`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING

from assistant import prompts
from assistant.answer import Answer, SourceGiven, SupportVerdict, Usage
from assistant.budget import (
    BuiltPrompt,
    SourceRenderer,
    answer_budget,
    build_prompt,
    render_candidate,
    render_record,
)
from assistant.chat.base import ChatModel, ModelRequest
from assistant.chat.registry import make_chat_model
from assistant.citations import check_citations, unsupported_citations
from assistant.condense import condense, prior_turns
from assistant.config import Settings
from assistant.conversations import ConversationsAPI
from assistant.errors import AssistantError, TurnInterrupted, require_text
from assistant.history import HistoryStore
from assistant.library import LibraryAPI
from assistant.messages import Listing
from assistant.redact import clean_secrets, mask, mask_model
from assistant.sources import (
    candidate,
    fit_listing,
    listing_sources,
    search_sources,
)
from assistant.support import is_abstention, model_judge, sentence_verdicts
from assistant.turn import (
    WAITING_FOR_MODEL,
    Clock,
    DeltaCallback,
    StatusCallback,
    stream_answer,
)

if TYPE_CHECKING:
    from retrieval.index import PaperIndex


class Assistant(LibraryAPI, ConversationsAPI):
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
    def model(self) -> ChatModel:
        """The chat model (made on first use from the settings)."""
        with self._lock:
            if self._model is None:
                self._model = make_chat_model(self.settings)
            return self._model

    @property
    def model_name(self) -> str:
        """The name of the current model (without creating it)."""
        return self._model.name if self._model is not None else self.settings.resolved_model

    def set_model(self, name: str) -> None:
        """Switch model: `offline`, `offline:<misbehaviour>` or an endpoint model name."""
        model = make_chat_model(self.settings, name)
        with self._lock:
            self._model = model

    def list_models(self) -> list[str]:
        """`offline` and the endpoint's models (`/v1/models`); raises ModelError if unreachable."""
        from assistant.chat.listing import endpoint_models

        return ["offline", *endpoint_models(self.settings)]

    # ------------------------------------------------------------ turns

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
        on_status: StatusCallback | None = None,
        save: bool = True,
    ) -> Answer:
        """A grounded, cited answer to `question` (a follow-up if `conversation_id` is given)."""
        question = require_text(question, "question")
        model = self.model

        def prepare(clock: Clock, conversation: str) -> tuple[BuiltPrompt, str | None, Usage]:
            prior = prior_turns(self.history, conversation) if conversation else []
            standalone, usage = question, Usage()
            if prior:
                with clock.stage("condense"):
                    standalone, usage = condense(model, question, prior, clock, cancel)
            with clock.stage("retrieve"):
                listed = self._listing(standalone)
                candidates = listed[0] if listed else self._candidates(standalone, k)
            with clock.stage("prompt"):
                shown = prompts.escape_data(standalone)
                request = ModelRequest(
                    task="answer",
                    question=standalone,
                    history=prior,
                    # only the offline model reads them, and not for a listing: no collection
                    # scan otherwise
                    term_weights=self._term_weights(standalone)
                    if getattr(model, "extractive", False) and listed is None
                    else {},
                )
                if listed is None:
                    built = self._build(
                        model,
                        lambda block: prompts.render("answer", sources=block, question=shown),
                        request,
                        candidates,
                    )
                else:
                    built = self._build_listing(model, request, listed[1], candidates)
            return built, standalone if standalone != question else None, usage

        return self._turn(
            "answer", question, conversation_id, prepare, on_delta, cancel, on_status, save=save
        )

    def summarize(
        self,
        ref: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
        on_status: StatusCallback | None = None,
        save: bool = True,
    ) -> Answer:
        """A cited summary of one paper (paper id, arXiv id or title fragment).

        Raises `PaperNotFound` (with "did you mean" candidates) before anything is saved.
        """
        ref = require_text(ref, "paper reference")
        model = self.model
        started = time.perf_counter()
        paper = self.resolve_paper(ref)  # before the turn: a bad reference saves nothing
        resolve_ms = (time.perf_counter() - started) * 1000
        if save and not conversation_id:  # titled by the paper, not by the reference typed
            conversation_id = self.history.new_conversation(f"Summary: {paper.title}")

        def prepare(clock: Clock, conversation: str) -> tuple[BuiltPrompt, str | None, Usage]:
            clock.timings["retrieve"] = round(resolve_ms, 3)
            with clock.stage("retrieve"):
                candidates = [candidate(paper, None, None)]
            with clock.stage("prompt"):
                built = self._build(
                    model,
                    lambda block: prompts.render("summary", sources=block),
                    ModelRequest(task="summary", question=paper.title),
                    candidates,
                )
            return built, None, Usage()

        return self._turn(
            "summary", ref, conversation_id, prepare, on_delta, cancel, on_status, save=save
        )

    def summarize_topic(
        self,
        topic: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
        on_status: StatusCallback | None = None,
        save: bool = True,
    ) -> Answer:
        """A cited overview of what several papers say about `topic`."""
        topic = require_text(topic, "topic")
        model = self.model
        if save and not conversation_id:
            conversation_id = self.history.new_conversation(f"Topic: {topic}")

        def prepare(clock: Clock, conversation: str) -> tuple[BuiltPrompt, str | None, Usage]:
            with clock.stage("retrieve"):
                candidates = self._candidates(topic, k or max(self.settings.top_k, 5))
            with clock.stage("prompt"):
                shown = prompts.escape_data(topic)
                built = self._build(
                    model,
                    lambda block: prompts.render("topic_summary", sources=block, topic=shown),
                    ModelRequest(task="topic_summary", question=topic),
                    candidates,
                )
            return built, None, Usage()

        return self._turn(
            "topic_summary", topic, conversation_id, prepare, on_delta, cancel, on_status, save=save
        )

    # ------------------------------------------------------------ turn machinery

    def _turn(
        self,
        kind: str,
        question: str,
        conversation_id: str | None,
        prepare: Callable[[Clock, str], tuple[BuiltPrompt, str | None, Usage]],
        on_delta: DeltaCallback | None,
        cancel: threading.Event | None,
        on_status: StatusCallback | None = None,
        *,
        save: bool = True,
    ) -> Answer:
        """Run one turn: save the question, prepare the prompt, stream, check, save.

        With `save=False` nothing is written (a one-shot answer; a follow-up still reads
        the conversation it continues). The configured API key is masked in the streamed
        text, the Answer and any error. Ctrl-C after some text saves the partial answer
        (incomplete, finish reason `interrupted`; when `save`) and raises `TurnInterrupted`
        carrying it.
        """
        clock = Clock()
        model = self.model
        history = self.history
        secrets = self._secrets()
        conversation = conversation_id or (history.new_conversation() if save else "")
        turn_id = history.start_turn(conversation, kind, question, model.name) if save else 0
        try:
            with ExitStack() as pin:
                with self._index_errors():  # one revision check for the whole turn
                    pin.enter_context(self.index.pinned())
                built, standalone, condense_usage = prepare(clock, conversation)
            if on_status is not None:
                on_status(WAITING_FOR_MODEL)
            text, finish = stream_answer(
                model,
                built,
                clock,
                on_delta,
                cancel,
                self._answer_tokens(model),
                on_status=on_status,
                secrets=secrets,
            )
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
                    estimated=finish.usage.estimated or condense_usage.estimated,
                ),
                timings_ms=clock.timings,
                finish_reason=finish.finish_reason,
                incomplete=finish.incomplete,
                abstained=is_abstention(text),
                conversation_id=conversation or None,
                turn_id=turn_id if save else None,
                error=finish.error,
                answer_mode="extractive" if getattr(model, "extractive", False) else "generative",
                support=self._verdicts(model, text, built),
            )
            answer = mask_model(answer, secrets)
        except AssistantError as exc:
            exc.message = mask(exc.message, secrets)
            exc.hint = mask(exc.hint, secrets) if exc.hint else exc.hint
            if save:
                history.fail_turn(turn_id, exc.message)
            raise
        except KeyboardInterrupt:
            if save:
                history.fail_turn(turn_id, "interrupted before the answer started")
            raise
        except BaseException as exc:
            if save:
                history.fail_turn(turn_id, f"interrupted: {type(exc).__name__}")
            raise
        if save:
            history.finish_turn(turn_id, answer)
        if finish.finish_reason == "interrupted":
            raise TurnInterrupted(answer)
        return answer

    def _secrets(self) -> list[str]:
        """What must never be shown or saved: the configured API key."""
        key = self.settings.openai_api_key
        return clean_secrets([key.get_secret_value()] if key else [])

    def _answer_tokens(self, model: ChatModel) -> int:
        return answer_budget(model.context_window, self.settings.max_answer_tokens)

    def _build(
        self,
        model: ChatModel,
        render_task: Callable[[str], str],
        request: ModelRequest,
        candidates: list[SourceGiven],
        render_source: SourceRenderer = render_candidate,
    ) -> BuiltPrompt:
        """Messages and the matching `ModelRequest`, from the same sources after the budget."""
        return build_prompt(
            system=prompts.render("system"),
            render_task=render_task,
            question=request.question,
            candidates=candidates,
            render_source=render_source,
            history=[(q, a) for q, a, _ in request.history],
            context_window=model.context_window,
            answer_tokens=self._answer_tokens(model),
            model_name=model.name,
            request=request,
        )

    def _build_listing(
        self,
        model: ChatModel,
        request: ModelRequest,
        listing: Listing,
        candidates: list[SourceGiven],
    ) -> BuiltPrompt:
        """The prompt for a list/metadata question: every matching record as a source (as
        many as the answer has room to list)."""
        candidates = fit_listing(candidates, self._answer_tokens(model))
        question = prompts.escape_data(request.question)
        criteria = prompts.escape_data(listing.query.criteria() or "as the question asks")

        def render(block: str) -> str:
            shown = block.count('<source id="')
            return prompts.render(
                "listing",
                sources=block,
                question=question,
                criteria=criteria,
                count=listing.total,
                shown=shown,
            )

        listed = request.model_copy(update={"listing": listing})
        built = self._build(model, render, listed, candidates, render_record)
        if built.sources_dropped and any(c.text for c in candidates):
            # A long list: every record's metadata beats some records with their abstracts.
            bare = [c.model_copy(update={"text": ""}) for c in candidates]
            built = self._build(model, render, listed, bare, render_record)
        return built

    def _listing(self, question: str) -> tuple[list[SourceGiven], Listing] | None:
        """Every record a list/metadata question asks for (None for other questions)."""
        with self._index_errors():
            stats = self.collection_stats()
            return listing_sources(self.index, question, stats.names(), lambda t: stats.df(t) > 0)

    def _candidates(self, query: str, k: int | None) -> list[SourceGiven]:
        """Search hits as source candidates, papers the question names first."""
        with self._index_errors():
            table = self.collection_stats().names()
            return search_sources(self.index, query, max(1, k or self.settings.top_k), table)

    def _term_weights(self, question: str) -> dict[str, float]:
        """IDF over the whole collection of the question's terms."""
        with self._index_errors():
            return self.collection_stats().weights(question)

    def _verdicts(self, model: ChatModel, text: str, built: BuiltPrompt) -> list[SupportVerdict]:
        """A support verdict per sentence: the judge prompt with a real model, else lexical."""
        if getattr(model, "extractive", False) or not text.strip():
            return sentence_verdicts(text, built.sources)
        return sentence_verdicts(text, built.sources, model_judge(model))
