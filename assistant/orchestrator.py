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
from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant import prompts
from assistant.answer import Answer, Usage
from assistant.budget import (
    BuiltPrompt,
    SourceCandidate,
    answer_budget,
    build_prompt,
    render_candidate,
)
from assistant.chat.base import ChatModel
from assistant.chat.registry import make_chat_model
from assistant.citations import check_citations, unsupported_citations
from assistant.condense import condense, prior_turns
from assistant.config import Settings
from assistant.conversations import ConversationsAPI
from assistant.errors import AssistantError, require_text
from assistant.history import HistoryStore
from assistant.library import LibraryAPI
from assistant.sources import candidate
from assistant.turn import Clock, DeltaCallback, stream_answer

if TYPE_CHECKING:
    from retrieval.index import PaperIndex

_ABSTAIN = re.compile(
    r"\b(do(es)? not|don't|doesn't)\s+(cover|address|discuss|answer|mention)\b|\bnot covered\b",
    re.IGNORECASE,
)


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

        return self._turn("answer", question, conversation_id, prepare, on_delta, cancel, save=save)

    def summarize(
        self,
        ref: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
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
                    paper.title,
                    candidates,
                )
            return built, None, Usage()

        return self._turn("summary", ref, conversation_id, prepare, on_delta, cancel, save=save)

    def summarize_topic(
        self,
        topic: str,
        *,
        conversation_id: str | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        k: int | None = None,
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
                    topic,
                    candidates,
                )
            return built, None, Usage()

        return self._turn(
            "topic_summary", topic, conversation_id, prepare, on_delta, cancel, save=save
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
        *,
        save: bool = True,
    ) -> Answer:
        """Run one turn: save the question, prepare the prompt, stream, check, save.

        With `save=False` nothing is written (a one-shot answer; a follow-up still reads
        the conversation it continues).
        """
        clock = Clock()
        model = self.model
        history = self.history
        conversation = conversation_id or (history.new_conversation() if save else "")
        turn_id = history.start_turn(conversation, kind, question, model.name) if save else 0
        try:
            built, standalone, condense_usage = prepare(clock, conversation)
            text, finish = stream_answer(
                model, built, clock, on_delta, cancel, self._answer_tokens(model)
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
                ),
                timings_ms=clock.timings,
                finish_reason=finish.finish_reason,
                incomplete=finish.incomplete,
                abstained=not check.citations and bool(_ABSTAIN.search(text)),
                conversation_id=conversation or None,
                turn_id=turn_id if save else None,
                error=finish.error,
            )
        except AssistantError as exc:
            if save:
                history.fail_turn(turn_id, exc.message)
            raise
        except BaseException as exc:
            if save:
                history.fail_turn(turn_id, f"interrupted: {type(exc).__name__}")
            raise
        if save:
            history.finish_turn(turn_id, answer)
        return answer

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
            hits = self.index.search(query, k, snippets=False)
            return [candidate(h.paper, h, h.score) for h in hits]
