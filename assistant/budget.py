"""Token budgets: make the prompt (system + history + sources + question) fit the model.

The prompt gets `context_window - answer_tokens`, shrunk by TOKENIZER_MARGIN because the
counts are cl100k tokens and a server's own tokenizer (Llama, Mistral, Qwen...) often needs
more for the same text. The fixed part (system prompt and the task with its question)
must fit, or `BudgetError` naming the setting to change. History gets at most a third of what
remains, newest turns first (the oldest are dropped); sources get the rest, packed best
first: the first source that does not fit whole is truncated if a useful part fits, and
every source after it is dropped. Token counts use the offline cl100k encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant import prompts
from assistant.answer import SourceGiven
from assistant.errors import BudgetError
from assistant.messages import ChatMessage, ModelRequest
from retrieval.tokens import count_tokens, truncate_tokens

# An unknown model name gets a conservative window: small local servers (llama.cpp's
# default --n_ctx is 2048-4096) answer an overflow with an empty stream, not an error.
DEFAULT_CONTEXT_WINDOW = 4096
OFFLINE_CONTEXT_WINDOW = 4096
# Per-message framing tokens (role, separators) in the chat format, and the reply primer.
MESSAGE_OVERHEAD = 4
REPLY_PRIMER = 3
# A truncated source shorter than this is not worth giving.
MIN_SOURCE_TOKENS = 40
# Slack for token counts of joined pieces differing from the sum of their parts.
SAFETY_MARGIN = 16
# Prompt counts are cl100k; a Llama/SentencePiece tokenizer counted 515 tokens for a prompt
# of 442 cl100k tokens (+16.5%), so the prompt gets the budget divided by 1 + this.
TOKENIZER_MARGIN = 0.20
TRUNCATION_MARK = " …"

# Substrings of model names (lower case) and their context windows; longest match wins.
KNOWN_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4-32k": 32_768,
    "gpt-4": 8_192,
    "gpt-5": 400_000,
    "gpt-3.5-turbo-instruct": 4_096,
    "gpt-3.5": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "llama3.1": 131_072,
    "llama-3.1": 131_072,
    "llama3.2": 131_072,
    "llama-3.2": 131_072,
    "llama3.3": 131_072,
    "llama-3.3": 131_072,
    "llama3": 8_192,
    "llama-3": 8_192,
    "llama2": 4_096,
    "llama-2": 4_096,
    "mistral": 32_768,
    "mixtral": 32_768,
    "qwen2.5": 32_768,
    "qwen3": 32_768,
    "gemma2": 8_192,
    "gemma-2": 8_192,
    "gemma3": 131_072,
    "gemma-3": 131_072,
    "phi3": 4_096,
    "phi-3": 4_096,
    "phi4": 16_384,
    "deepseek": 65_536,
}


def table_context_window(model: str) -> int | None:
    """The window the known-models table gives `model` (longest name match), else None."""
    name = model.lower()
    if name == "offline" or name.startswith("offline:"):
        return OFFLINE_CONTEXT_WINDOW
    for key in sorted(KNOWN_CONTEXT_WINDOWS, key=len, reverse=True):
        if key in name:
            return KNOWN_CONTEXT_WINDOWS[key]
    return None


def context_window_for(model: str, override: int | None = None) -> int:
    """The context window of `model`: `override` if given, else the known table, else 4096."""
    if override:
        return override
    return table_context_window(model) or DEFAULT_CONTEXT_WINDOW


def prompt_limit(context_window: int, answer_tokens: int) -> int:
    """cl100k tokens the prompt may take: the window less the answer room and margins."""
    return int((context_window - answer_tokens) / (1 + TOKENIZER_MARGIN)) - SAFETY_MARGIN


def answer_budget(context_window: int, max_answer_tokens: int) -> int:
    """Tokens kept for the answer: `max_answer_tokens`, but at most a third of the window
    (a small window keeps room for the sources, which the margins above shrink further)."""
    return max(16, min(max_answer_tokens, context_window // 3))


def message_tokens(messages: Sequence[ChatMessage]) -> int:
    """Tokens the messages take in the chat format."""
    return sum(count_tokens(m.content) + MESSAGE_OVERHEAD for m in messages) + REPLY_PRIMER


# render_source(number, candidate, text) -> the source block as it appears in the prompt.
SourceRenderer = Callable[[int, SourceGiven, str], str]


def render_candidate(
    number: int, candidate: SourceGiven, text: str, *, record: bool = False
) -> str:
    """The prompt's source block for `candidate` (the standard `SourceRenderer`); with
    `record`, a list answer's block, which adds the category and code availability."""
    return prompts.render_source(
        number,
        title=candidate.title,
        authors=candidate.authors,
        year=candidate.year,
        arxiv_id=candidate.arxiv_id,
        text=text,
        authors_truncated=candidate.authors_truncated,
        category=candidate.category if record else None,
        has_code=candidate.has_code if record else None,
    )


def render_record(number: int, candidate: SourceGiven, text: str) -> str:
    """A list answer's source block: the standard one plus category and code."""
    return render_candidate(number, candidate, text, record=True)


def pack_sources(
    candidates: Sequence[SourceGiven], available: int, render: SourceRenderer
) -> tuple[list[SourceGiven], list[str]]:
    """Number and pack sources best-first into `available` tokens.

    Returns the sources given and their rendered blocks. The first candidate that does not
    fit whole is truncated (if at least MIN_SOURCE_TOKENS of its text fit) and the rest
    are dropped.
    """
    given: list[SourceGiven] = []
    blocks: list[str] = []
    remaining = available
    for candidate in candidates:
        number = len(given) + 1
        text = candidate.text
        block = render(number, candidate, text)
        cost = count_tokens(block) + 2
        if cost > remaining:
            frame = count_tokens(render(number, candidate, "")) + 2
            room = remaining - frame - count_tokens(TRUNCATION_MARK) - 2
            if room < MIN_SOURCE_TOKENS:
                break
            text = truncate_tokens(text, room).rstrip() + TRUNCATION_MARK
            block = render(number, candidate, text)
            cost = count_tokens(block) + 2
            if cost > remaining:
                break
            given.append(_given(number, candidate, text))
            blocks.append(block)
            break
        given.append(_given(number, candidate, text))
        blocks.append(block)
        remaining -= cost
    return given, blocks


def _given(number: int, candidate: SourceGiven, text: str) -> SourceGiven:
    return candidate.model_copy(update={"number": number, "text": text})


def trim_history(turns: Sequence[tuple[str, str]], available: int) -> list[ChatMessage]:
    """(question, answer) pairs as messages, newest kept first, oldest dropped to fit."""
    kept: list[tuple[str, str]] = []
    used = 0
    for question, answer in reversed(turns):
        cost = count_tokens(question) + count_tokens(answer) + 2 * MESSAGE_OVERHEAD
        if used + cost > available:
            break
        kept.append((question, answer))
        used += cost
    messages: list[ChatMessage] = []
    for question, answer in reversed(kept):
        messages.append(ChatMessage(role="user", content=question))
        messages.append(ChatMessage(role="assistant", content=answer))
    return messages


@dataclass
class BuiltPrompt:
    """The messages to send, the sources given, and what the budget left out."""

    messages: list[ChatMessage]
    sources: list[SourceGiven]
    prompt_tokens: int
    budget: int
    history_turns_kept: int
    sources_dropped: int
    # The same turn as data (task, the sources above, question) for models that read it.
    request: ModelRequest | None = None


def build_prompt(
    *,
    system: str,
    render_task: Callable[[str], str],
    question: str,
    candidates: Sequence[SourceGiven],
    render_source: SourceRenderer,
    history: Sequence[tuple[str, str]] = (),
    context_window: int,
    answer_tokens: int,
    model_name: str = "the model",
    request: ModelRequest | None = None,
) -> BuiltPrompt:
    """Fit system + history + sources + task into `context_window - answer_tokens`.

    `render_task(sources_block)` renders the final user message (it contains `question`).
    `request` (default: an "answer" request for `question`) comes back as
    `BuiltPrompt.request` with exactly the sources that fit.
    """
    budget = prompt_limit(context_window, answer_tokens)
    system_msg = ChatMessage(role="system", content=system)
    fixed = message_tokens([system_msg, ChatMessage(role="user", content=render_task(""))])
    if fixed > budget:
        question_tokens = count_tokens(question)
        frame = fixed - question_tokens
        if frame > budget:
            raise BudgetError(
                f"{model_name}'s {context_window}-token context window has no room for the"
                f" prompt: {answer_tokens} tokens are kept for the answer and the system prompt"
                f" and instructions alone need about {int(frame * (1 + TOKENIZER_MARGIN))}",
                "lower RA_MAX_ANSWER_TOKENS, or set RA_CONTEXT_WINDOW to the model's real window",
            )
        raise BudgetError(
            f"the question is {question_tokens} tokens; with {model_name}'s "
            f"{context_window}-token context window there is room for about {budget - frame}",
            "shorten the question, lower RA_MAX_ANSWER_TOKENS, or use a model with a larger"
            " context window",
        )
    available = budget - fixed
    history_messages = trim_history(history, available // 3)
    available -= sum(count_tokens(m.content) + MESSAGE_OVERHEAD for m in history_messages)
    sources, blocks = pack_sources(candidates, available, render_source)

    while True:
        user = ChatMessage(role="user", content=render_task("\n\n".join(blocks)))
        messages = [system_msg, *history_messages, user]
        total = message_tokens(messages)
        if total <= budget or not blocks:
            break
        # Token counts of the joined prompt ran over: drop the last source and re-check.
        blocks.pop()
        sources.pop()
    if candidates and not sources:
        raise BudgetError(
            f"none of the {len(candidates)} papers found fits {model_name}'s"
            f" {context_window}-token context window beside the prompt and the"
            f" {answer_tokens}-token answer room (only {max(available, 0)} tokens are left)",
            "lower RA_MAX_ANSWER_TOKENS, or set RA_CONTEXT_WINDOW to the model's real window",
        )
    return BuiltPrompt(
        messages=messages,
        sources=sources,
        prompt_tokens=total,
        budget=budget,
        history_turns_kept=len(history_messages) // 2,
        sources_dropped=len(candidates) - len(sources),
        request=(request or ModelRequest(task="answer", question=question)).model_copy(
            update={"sources": list(sources)}
        ),
    )
