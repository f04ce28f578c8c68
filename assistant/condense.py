"""Follow-ups: rewrite a question that leans on earlier turns as a standalone question."""

from __future__ import annotations

import threading
import time

from assistant import prompts
from assistant.answer import Usage
from assistant.budget import message_tokens
from assistant.chat.base import ChatMessage, ChatModel, ModelRequest, complete
from assistant.citations import strip_markers
from assistant.history import HistoryStore
from assistant.turn import Clock
from retrieval.tokens import count_tokens, truncate_tokens

HISTORY_ANSWER_TOKENS = 300  # a past answer as given back to the model
CONDENSE_TURNS = 3
CONDENSE_MAX_TOKENS = 96
PriorTurn = tuple[str, str, list[str]]


def prior_turns(history: HistoryStore, conversation_id: str) -> list[PriorTurn]:
    """Finished turns of a conversation: (question, answer without markers, cited titles)."""
    turns: list[PriorTurn] = []
    for turn in history.conversation(conversation_id).turns:
        if turn.status != "done" or turn.answer is None:
            continue
        answer = truncate_tokens(strip_markers(turn.answer.answer), HISTORY_ANSWER_TOKENS)
        titles = list(dict.fromkeys(c.title for c in turn.answer.citations))
        question = turn.answer.standalone_query or turn.question
        turns.append((question, answer, titles))
    return turns


def condense(
    model: ChatModel,
    question: str,
    prior: list[PriorTurn],
    clock: Clock,
    cancel: threading.Event | None,
) -> tuple[str, Usage]:
    """Rewrite a follow-up as a standalone question using the last few turns.

    Uses as many of the last CONDENSE_TURNS turns as fit the model's window; when not
    even one fits, the follow-up is used as it is.
    """
    system = ChatMessage(role="system", content=prompts.render("system"))
    messages: list[ChatMessage] | None = None
    used = 0
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
            messages, used = candidate, n
            break
    if messages is None:
        return question, Usage()
    t0 = time.perf_counter()
    request = ModelRequest(task="condense", question=question, history=prior[-used:])
    text, finish = complete(
        model, messages, max_tokens=CONDENSE_MAX_TOKENS, cancel=cancel, request=request
    )
    clock.model_s += time.perf_counter() - t0
    lines = [ln.strip().strip('"').strip() for ln in text.strip().splitlines() if ln.strip()]
    rewritten = strip_markers(lines[0]) if lines else ""
    if not rewritten or count_tokens(rewritten) > 3 * count_tokens(question) + 60:
        rewritten = question
    return rewritten, finish.usage
