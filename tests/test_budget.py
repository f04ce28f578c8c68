"""Token budgets: the prompt always fits; sources packed best-first; history trimmed."""

from __future__ import annotations

from typing import Any

import pytest

from assistant import prompts
from assistant.answer import SourceGiven
from assistant.budget import (
    BuiltPrompt,
    answer_budget,
    build_prompt,
    context_window_for,
    message_tokens,
    pack_sources,
    render_candidate,
    trim_history,
)
from assistant.chat.base import complete
from assistant.chat.offline import OfflineChatModel
from assistant.citations import check_citations
from assistant.config import load_settings
from assistant.errors import BudgetError
from retrieval.tokens import count_tokens

LONG = " ".join(
    f"Sentence {i} says that multi-turn jailbreak attacks on language models matter."
    for i in range(60)
)


def candidates(n: int = 5, text: str = LONG) -> list[SourceGiven]:
    return [SourceGiven(paper_id=f"p{i}", title=f"Paper {i}", text=text) for i in range(1, n + 1)]


def build(
    window: int, question: str = "Which papers study multi-turn jailbreaks?", **kw: Any
) -> tuple[BuiltPrompt, int]:
    answer_tokens = answer_budget(window, 800)
    return build_prompt(
        system=prompts.render("system"),
        render_task=lambda block: prompts.render("answer", sources=block, question=question),
        question=question,
        candidates=kw.pop("cands", candidates()),
        render_source=render_candidate,
        context_window=window,
        answer_tokens=answer_tokens,
        **kw,
    ), answer_tokens


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o-mini", 128_000),
        ("gpt-4o", 128_000),
        ("gpt-4.1-nano", 1_047_576),
        ("gpt-4", 8_192),
        ("gpt-3.5-turbo", 16_385),
        ("llama3", 8_192),
        ("llama3.1:8b", 131_072),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", 131_072),
        ("offline", 4_096),
        ("offline:slow", 4_096),
        ("some-unknown-model", 4_096),  # issue 11: conservative default
    ],
)
def test_known_context_windows(model: str, window: int) -> None:
    assert context_window_for(model) == window


def test_settings_override_the_window() -> None:
    assert context_window_for("gpt-4o", load_settings(context_window=2048).context_window) == 2048


@pytest.mark.parametrize("window", [1024, 1500, 2048, 4096])
def test_prompt_fits_and_answer_still_cites(window: int) -> None:
    built, answer_tokens = build(window)
    assert message_tokens(built.messages) == built.prompt_tokens
    assert built.prompt_tokens + answer_tokens <= window
    assert built.sources, "at least one source fits"
    assert built.sources_dropped == 5 - len(built.sources)
    model = OfflineChatModel()
    model.context_window = window
    text, _ = complete(model, built.messages, max_tokens=answer_tokens, request=built.request)
    check = check_citations(text, built.sources)
    assert check.citations and not check.invalid


def test_sources_packed_best_first_last_one_truncated() -> None:
    cands = candidates(4)
    one = count_tokens(render_candidate(1, cands[0], cands[0].text)) + 2
    given, blocks = pack_sources(cands, int(one * 2.5), render_candidate)
    assert [s.paper_id for s in given] == ["p1", "p2", "p3"]
    assert given[0].text == LONG and given[1].text == LONG
    assert given[2].text.endswith("…") and len(given[2].text) < len(LONG)
    assert sum(count_tokens(b) + 2 for b in blocks) <= int(one * 2.5)


def test_a_source_too_small_to_be_useful_is_dropped() -> None:
    cands = candidates(2)
    one = count_tokens(render_candidate(1, cands[0], cands[0].text)) + 2
    given, _ = pack_sources(cands, one + 20, render_candidate)
    assert [s.paper_id for s in given] == ["p1"]


def test_history_trimmed_oldest_first() -> None:
    turns = [(f"question {i} " * 10, f"answer {i} " * 30) for i in range(10)]
    kept = trim_history(turns, 300)
    assert kept and len(kept) % 2 == 0
    assert kept[-1].content == turns[-1][1]  # the newest turn is kept
    assert "question 0" not in kept[0].content  # the oldest went first
    assert sum(count_tokens(m.content) + 4 for m in kept) <= 300


def test_history_in_prompt_stays_within_budget() -> None:
    history = [(f"question {i} " * 20, f"answer {i} " * 200) for i in range(20)]
    built, answer_tokens = build(4096, history=history)
    assert built.prompt_tokens + answer_tokens <= 4096
    assert 0 < built.history_turns_kept < 20
    assert built.messages[1].content.startswith("question")


def test_question_over_budget_is_a_clear_error() -> None:
    question = "why " * 3000
    with pytest.raises(BudgetError) as info:
        build(2048, question=question)
    assert "tokens" in info.value.message and "question" in info.value.message
    assert info.value.hint
