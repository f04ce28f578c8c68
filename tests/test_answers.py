"""Issue 12: evidence answers, comparisons, list/metadata questions, abstention by evidence,
follow-ups and per-sentence support, on the offline model and a real endpoint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.answer import SourceGiven
from assistant.chat.base import ModelRequest
from assistant.chat.offline_compose import compose
from assistant.chat.offline_condense import condense
from assistant.config import Settings
from assistant.history import HistoryStore
from assistant.metadata import parse, select
from assistant.orchestrator import Assistant
from assistant.prompts import ABSTAIN_SENTENCE
from assistant.support import is_abstention, sentence_verdicts
from assistant.text import clean_text, format_authors
from tests.openai_server import OpenAIServer

GUARD = (
    "Moderation tools are needed for LLM safety. To address these challenges, we present "
    "ToyGuard, an open moderation classifier for unsafe prompts in 12 languages. We train "
    "ToyGuard on \\textit{ToyMix}, a dataset of 40K labelled prompts. ToyGuard improves F1 by "
    "4.5\\% over prior moderation classifiers &amp; baselines."
)
SHIELD = (
    "We introduce ToyShield, a moderation model that detects unsafe responses of chat "
    "assistants. ToyShield is trained on 20K human-labelled conversations. It outperforms "
    "ToyGuard by 3.1% on refusal detection."
)
COOKING = "We study bread baking at high altitude. Dough rises faster when air pressure is low."


def given(*papers: tuple[str, str, int]) -> list[SourceGiven]:
    return [
        SourceGiven(number=i, paper_id=f"p{i}", title=t, text=x, year=y, authors=["A. Author"])
        for i, (t, x, y) in enumerate(papers, 1)
    ]


SOURCES = given(
    ("ToyGuard: Multilingual Moderation", GUARD, 2024),
    ("ToyShield: Response Moderation for Chat Assistants", SHIELD, 2025),
    ("Baking Bread in the Mountains", COOKING, 2020),
)


def answer(question: str, sources: list[SourceGiven] = SOURCES) -> str:
    return compose(ModelRequest(task="answer", question=question, sources=sources))


def test_evidence_answer_is_attributed_clean_and_leaves_out_word_sharers() -> None:
    text = answer("Which moderation classifiers detect unsafe prompts?")
    lines = text.split("\n\n")
    assert lines[0] == "2 papers in the collection address this:"
    assert lines[1].startswith("ToyGuard (2024): ") and lines[2].startswith("ToyShield (2025): ")
    assert "Baking" not in text  # shares no more than a word
    assert not re.search(r"\b[Ww]e\b|\bour\b", text)  # third person, never "we"
    assert "To address these challenges" not in text  # no dangling opener
    assert "The authors present ToyGuard" in text


def test_text_shown_is_clean() -> None:
    text = answer("How much does ToyGuard improve F1 over prior classifiers?")
    assert "4.5%" in text and "\\%" not in text and "&amp;" not in text
    assert clean_text(r"\textit{(i)} 50\% of $n$ &lt; 3") == "(i) 50% of n < 3"


def test_comparison_side_by_side_never_refused() -> None:
    text = answer("How does ToyGuard differ from ToyShield?")
    head, first, second = text.split("\n\n")
    assert head.startswith("Comparing ToyGuard [1] and ToyShield [2]")
    assert first.startswith("ToyGuard (2024)") and "40K" in first and "4.5%" in first
    assert second.startswith("ToyShield (2025)") and "20K" in second
    assert not is_abstention(text)


def test_abstention_by_evidence() -> None:
    text = answer("What learning rate schedule was used to train ToyGuard?")
    assert text.startswith("The abstracts of ToyGuard [1]")
    assert "do not report" in text and "learning rate schedule" in text
    assert is_abstention(text)
    plain = answer("How do volcanoes form underwater islands?")
    assert plain == ABSTAIN_SENTENCE and is_abstention(plain)


def test_condense_follow_ups() -> None:
    listed = [("Which papers study multi-turn jailbreaks?", "X-Teaming ...", ["X-Teaming: A"])]
    assert condense(listed, "and which of them releases a dataset?") == (
        "Which of the papers that study multi-turn jailbreaks releases a dataset?"
    )
    one = [("What is PolyGuard?", "PolyGuard is a safety model.", ["PolyGuard: A Tool"])]
    assert condense(one, "Who are the authors?") == "Who are the authors of PolyGuard?"
    assert condense(one, "And what about WildGuard?") == "What is WildGuard?"
    assert condense(one, "and WildGuard too?") == "What is WildGuard?"
    # A new question that names its own subject stands on its own.
    assert condense(one, "What is SafetyAnalyst?") == "What is SafetyAnalyst?"
    assert condense(one, "Who wrote WildGuard?") == "Who wrote WildGuard?"
    assert condense(one, "What about its limitations?") == "What are the limitations of PolyGuard?"
    assert condense(one, "How does SODA build its dialogues?") == (
        "How does SODA build its dialogues?"
    )
    years: list[tuple[str, str, list[str]]] = [
        ("Which papers were published in 2021?", "The collection has 6 papers", [])
    ]
    assert condense(years, "and in 2023?") == "Which papers were published in 2023?"
    wrote: list[tuple[str, str, list[str]]] = [
        ("Who wrote X-Teaming?", "X-Teaming (2025) is by Salman Rahman, Liwei Jiang", [])
    ]
    assert condense(wrote, "What other papers did they write?") == (
        "What other papers did Salman Rahman write?"
    )


def test_metadata_questions_parse() -> None:
    q = parse("Which papers were published in 2021?", [])
    assert q is not None and (q.year_from, q.year_to, q.kind) == (2021, 2021, "list")
    q = parse("How many papers have appeared since 2024?", [])
    assert q is not None and (q.year_from, q.year_to, q.kind) == (2024, None, "count")
    q = parse("List the papers from 2021 to 2022 that release code", [])
    assert q is not None and (q.year_from, q.year_to, q.has_code) == (2021, 2022, True)
    q = parse("Who wrote X-Teaming?", [])
    assert q is not None and (q.kind, q.ref, q.field) == ("record", "X-Teaming", "authors")
    q = parse("Who is the first author of the PolyGuard paper?", [])
    assert q is not None and (q.ref, q.field) == ("PolyGuard", "first_author")
    assert parse("How many hackers took part in the 2024 bug bounty?", []) is None
    assert parse("Which papers study multi-turn jailbreaks?", []) is None


def test_lists_are_complete_from_the_records(seed_index: Any) -> None:
    papers = seed_index.papers()
    q = parse("Which papers come from Liwei Jiang?", papers)
    assert q is not None and q.author == "Liwei Jiang"
    found = select(q, papers)
    expected = [p for p in papers if "Liwei Jiang" in p.authors]
    assert {p.paper_id for p in found} == {p.paper_id for p in expected} and len(found) > 20
    # exact names: a name that is only part of a listed author matches nothing
    q = parse("Which papers are by Jiang?", papers)
    assert q is None or not select(q, papers)


def test_offline_list_answer_names_every_match(seed_settings: Settings, seed_index: Any) -> None:
    bot = Assistant(seed_settings, index=seed_index)
    got = bot.ask("Which papers were published in 2021?")
    expected = sorted(p.paper_id for p in seed_index.papers() if p.year == 2021)
    assert sorted(c.paper_id for c in got.citations) == expected
    assert got.answer.startswith(f"The collection has {len(expected)} papers published in 2021")
    assert got.answer_mode == "extractive"
    who = bot.ask("Who wrote X-Teaming?")
    assert "Salman Rahman" in who.answer and "et al." in who.answer
    assert all(v.verdict == "supported" for v in who.support)


def test_a_list_longer_than_the_window_holds_names_every_match(
    seed_settings: Settings, seed_index: Any
) -> None:
    # 28 records with their abstract openings do not fit a 4,096-token window; their
    # metadata does, and a complete list beats a list with abstracts.
    expected = {p.paper_id for p in seed_index.papers() if "Liwei Jiang" in p.authors}
    got = Assistant(seed_settings, index=seed_index).ask("Which papers come from Liwei Jiang?")
    assert {c.paper_id for c in got.citations} == expected and len(expected) > 20
    assert "oldest first, are listed" not in got.answer  # the whole list, not its start


def test_real_model_gets_the_records_as_a_structured_source(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    with OpenAIServer(default=lambda body: "SUPPORTED") as server:
        settings = seed_settings.model_copy(
            update={"model": "test-model", "openai_base_url": server.base_url}
        )
        bot = Assistant(settings, index=seed_index, history=HistoryStore(tmp_path / "h.sqlite"))
        bot.ask("Which papers were published in 2021?")
        user = server.requests[0].body["messages"][-1]["content"]
        system = server.requests[0].body["messages"][0]["content"]
    matches = sorted((p for p in seed_index.papers() if p.year == 2021), key=lambda p: p.paper_id)
    assert user.startswith("## Task: answer a question about the collection's records")
    assert "The collection has 6 matching papers; 6 of them are the numbered sources" in user
    assert user.count('<source id="') == len(matches) == 6
    for paper in matches:
        assert paper.title.split(":")[0] in user
    assert "Code: " in user and "Category: " in user and "Year: 2021" in user
    assert "list every matching paper (never only the first few)" in user
    assert "Use only the numbered sources" in system


def test_real_model_answer_prompt_has_compare_and_not_reported_instructions(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    with OpenAIServer(default=lambda body: "SUPPORTED") as server:
        settings = seed_settings.model_copy(
            update={"model": "test-model", "openai_base_url": server.base_url}
        )
        bot = Assistant(settings, index=seed_index, history=HistoryStore(tmp_path / "h.sqlite"))
        bot.ask("How does PolyGuard differ from WildGuard?")
        user = server.requests[0].body["messages"][-1]["content"]
    assert "side by side" in user and "do not report what is asked" in user
    first, second = re.findall(r'<source id="\d+">\nTitle: ([^\n]+)', user)[:2]
    assert first.startswith("PolyGuard") and second.startswith("WildGuard")


def test_support_verdicts() -> None:
    src = given(("ToyGuard: Multilingual Moderation", GUARD, 2024))
    text = (
        "2 papers address this:\n\nToyGuard is trained on ToyMix, 40K labelled prompts [1]. "
        "ToyGuard moderates prompts in twelve spoken forms and dialects [1]. "
        "Volcanoes form islands quickly underwater [1]. Bread rises fast at altitude."
    )
    verdicts = sentence_verdicts(text, src)
    assert [(v.claim, v.verdict) for v in verdicts] == [
        (False, "supported"),
        (True, "supported"),
        (True, "weak"),
        (True, "unsupported"),
        (True, "unsupported"),
    ]


def test_one_author_formatter() -> None:
    assert format_authors(["A", "B", "C", "D"]) == "A, B, C et al."
    assert format_authors(["A", "B"], truncated=True) == "A, B et al."
    assert format_authors(["A", "B"]) == "A, B"
