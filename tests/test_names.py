"""Which papers a question names: titles, title acronyms and names abstracts introduce,
resolved over the whole collection, so comparisons get both sides as sources."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.answer import SourceGiven
from assistant.chat.base import ModelRequest
from assistant.chat.offline_compose import compose
from assistant.config import Settings
from assistant.history import HistoryStore
from assistant.names import NameTable, introduced_names, phrases, title_names
from assistant.orchestrator import Assistant
from assistant.support import is_abstention
from tests.openai_server import OpenAIServer

ROWS = [
    (
        "p1",
        "Chasing Moving Targets with Self-Play for Safer Models",
        "Attackers overfit to static defenses. To address this, we propose ToyTeam, an online "
        "self-play algorithm where attacker and defender co-evolve. ToyTeam improves robustness "
        "by 12.5% on ToyBench.",
    ),
    ("p2", "Inference-Time Adapters (ITA): Tailoring Models", "We propose ITA, an adapter."),
    ("p3", "Quokka: Controllable Generation", "We introduce Quokka, an unlearning method."),
    ("p4", "Two Reads of ToyBench", "We present ToyBench, a benchmark."),
    ("p5", "Another ToyBench Study", "We release ToyBench, a benchmark of LLMs."),
]


def test_names_come_from_titles_acronyms_and_introducing_sentences() -> None:
    assert title_names("Inference-Time Adapters (ITA): Tailoring Models") == [
        "Inference-Time Adapters (ITA)",
        "Inference-Time Adapters",
        "ITA",
    ]
    assert title_names("Gradient descent converges (nearly) linearly") == [
        "Gradient descent converges (nearly) linearly"
    ]
    assert introduced_names(ROWS[0][2]) == ["ToyTeam"]
    # a name the authors build on is not theirs: only what follows the verb counts
    assert introduced_names("Building on X-Teaming, we introduce XGuard, a dataset.") == ["XGuard"]
    # the first word of a question counts when it is a name ("Quokka versus ITA")
    assert phrases("Quokka versus ITA: how do they differ?") == ["Quokka", "ITA"]
    assert phrases("Compare ToyTeam and the Pluralistic Toy Suite.") == [
        "ToyTeam",
        "Pluralistic Toy Suite",
    ]


def test_table_resolves_names_over_every_paper_and_refuses_ambiguous_ones() -> None:
    table = NameTable.build(ROWS)
    assert table.named("How is ToyTeam unlike ITA?") == ["p1", "p2"]
    assert table.named("Quokka versus ITA: how does each control generation?") == ["p3", "p2"]
    assert table.lookup("Inference-Time Adapters") == "p2"
    assert table.lookup("toyteam") == "p1"
    assert table.lookup("ToyBench") is None  # two papers introduce it: not one paper's name
    assert table.lookup("LLMs") is None  # an acronym every paper uses
    assert table.named("Which papers study moderation?") == []


def test_offline_comparison_finds_a_side_whose_title_lacks_its_name() -> None:
    sources = [
        SourceGiven(number=i, paper_id=pid, title=title, text=text, year=2025)
        for i, (pid, title, text) in enumerate(ROWS[:3], 1)
    ]
    text = compose(
        ModelRequest(task="answer", question="How is ToyTeam unlike Quokka?", sources=sources)
    )
    head, first, second = text.split("\n\n")
    assert head == "Comparing ToyTeam [1] and Quokka [3] side by side, from their abstracts:"
    assert first.startswith(
        "ToyTeam (Chasing Moving Targets with Self-Play for Safer Models, 2025)"
    )
    assert "12.5%" in first and "Attackers overfit" not in first  # its numbers, no background
    assert second.startswith("Quokka (2025): The authors introduce Quokka")
    assert not is_abstention(text)


def test_comparison_sides_skip_code_links_and_background() -> None:
    sources = [
        SourceGiven(
            number=1,
            paper_id="a",
            title="GEN-X: Probing Cultures",
            text="It is crucial for models to know cultures. In this work, we uncover the "
            "perceptions of three models on 110 countries. We find that models favour some "
            "cultures. Code and data can be found here: https://example.org/genx/",
            year=2024,
        ),
        SourceGiven(
            number=2,
            paper_id="b",
            title="TeamX: Red-Teaming Cultures",
            text="We introduce TeamX, a red-teaming system. Models reach 37.7% accuracy.",
            year=2024,
        ),
    ]
    text = compose(
        ModelRequest(
            task="answer",
            question="What is the difference between GEN-X and TeamX?",
            sources=sources,
        )
    )
    side = text.split("\n\n")[1]
    assert "110 countries" in side and "We find" not in side and "find that models" in side
    assert "https://" not in side and "crucial" not in side


def test_real_model_gets_the_named_papers_as_sources(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    """Self-RedTeam is named only in its abstract; with k=1 both sides still go to the model."""
    with OpenAIServer(default=lambda body: "SUPPORTED") as server:
        settings = seed_settings.model_copy(
            update={"model": "test-model", "openai_base_url": server.base_url}
        )
        bot = Assistant(settings, index=seed_index, history=HistoryStore(tmp_path / "h.sqlite"))
        got = bot.ask("How is Self-RedTeam unlike X-Teaming?", k=1)
        user = server.requests[0].body["messages"][-1]["content"]
    titles = re.findall(r'<source id="\d+">\nTitle: ([^\n]+)', user)
    assert titles[0].startswith("Chasing Moving Targets with Online Self-Play")
    assert titles[1].startswith("X-Teaming")
    assert "we propose Self-RedTeam" in user
    assert [s.paper_id for s in got.sources[:2]] == ["2506.07468", "2504.13203"]
