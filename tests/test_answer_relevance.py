"""Which retrieved papers an evidence answer includes: topic match by collection-wide word
weights and the question's phrases, not single shared words; names no source mentions."""

from __future__ import annotations

from typing import Any

from assistant.answer import SourceGiven
from assistant.chat.base import ModelRequest
from assistant.chat.offline_compose import compose
from assistant.chat.offline_topic import question_phrases
from assistant.config import Settings
from assistant.orchestrator import Assistant
from assistant.support import is_abstention
from assistant.text import terms
from tests.reference_stats import TermStats

FILTER = (
    "We present ToyFilter, an interpretable safety moderation system for chat assistants. "
    "ToyFilter classifies harmful prompts with an F1 of 0.81 on public safety benchmarks."
)
GUARD = (
    "We introduce ToyGuard, an open safety moderation tool for prompts and responses. "
    "ToyGuard detects jailbreaks and refusals across 13 risk categories."
)
AGENTS = (
    "We build AgentBox, a sandbox where agents call external tools to book flights. "
    "Agents show safety risks in over 50% of the simulated episodes with malicious users."
)
CHAT = (
    "We study open-domain dialogue agents and how they respond to user requests. "
    "Our agents produce engaging responses in 5 languages."
)


def given(*papers: tuple[str, str]) -> list[SourceGiven]:
    return [
        SourceGiven(number=i, paper_id=f"p{i}", title=t, text=x, year=2024)
        for i, (t, x) in enumerate(papers, 1)
    ]


SOURCES = given(
    ("ToyGuard: Open Safety Moderation Tools", GUARD),
    ("AgentBox: Sandboxing Safety Risks of Tool-Using Agents", AGENTS),
    ("ToyFilter: Interpretable Safety Moderation", FILTER),
    ("Engaging Dialogue Agents", CHAT),
)
# As in a collection of safety papers: "safety" is everywhere, "moderation" rarer.
WEIGHTS = {"safeti": 0.8, "moder": 2.2, "tool": 2.0, "propos": 1.0}


def ask(question: str, sources: list[SourceGiven] = SOURCES, **weights: Any) -> str:
    request = ModelRequest(task="answer", question=question, sources=sources, **weights)
    return compose(request)


def test_a_paper_with_the_question_phrase_is_in_one_with_scattered_words_is_out() -> None:
    text = ask("What safety moderation tools have been proposed?", term_weights=WEIGHTS)
    assert "ToyGuard (2024)" in text and "ToyFilter (2024)" in text
    # AgentBox has "safety" and "tools", in different senses and sentences; no "moderation"
    assert "AgentBox" not in text
    assert text.startswith("2 papers in the collection address this:")


def test_question_phrases_stop_at_clause_and_alternative_words() -> None:
    pairs = question_phrases("Which papers study moral reasoning or policy adherence?")
    as_terms = [(sorted(a), sorted(b)) for a, b in pairs]
    assert (["moral"], ["reason"]) in as_terms and (["polici"], ["adher"]) in as_terms
    assert (["reason"], ["polici"]) not in as_terms  # "or" separates two concepts


def test_a_name_no_source_mentions_is_not_answered_from_other_papers() -> None:
    text = ask("Which optimizer was used to fine-tune ToyMax on safety moderation prompts?")
    assert "address this" not in text
    assert text.startswith("The abstracts of ") and text.endswith("do not mention ToyMax.")
    assert is_abstention(text)


def test_a_name_written_with_a_footnote_digit_still_counts_as_mentioned() -> None:
    sources = given(("Negation Graphs", "We introduce ANION1, a graph of 627K if-then rules."))
    text = ask("How many if-then rules does ANION have?", sources)
    assert "627K" in text and not is_abstention(text)


def test_a_comparison_shows_each_papers_measured_result() -> None:
    text = ask("Compare ToyFilter and AgentBox.")
    assert text.startswith("Comparing ToyFilter [3] and AgentBox [2]")
    assert "50%" in text and "0.81" in text


def test_term_stats_weigh_rare_words_over_common_ones() -> None:
    stats = TermStats.build(["language models and morality", "language models", "models"])
    weights = stats.weights("How do language models reason about morality?")
    assert weights["moral"] > weights["languag"] > weights["model"]
    assert weights["reason"] == max(weights.values())  # in no paper
    assert TermStats.build([]).weights("anything") == {}


def test_the_offline_model_gets_collection_weights_for_the_question(
    seed_settings: Settings, seed_index: Any
) -> None:
    assistant = Assistant(seed_settings, index=seed_index)
    question = "How well do language models reason about morality?"
    weights = assistant._term_weights(question)
    assert set(weights) == set(terms(question))
    assert weights["moral"] > 2 * weights["model"]
    assert assistant._term_weights("morality") == {"moral": weights["moral"]}  # cached stats
