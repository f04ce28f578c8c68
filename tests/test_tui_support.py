"""The chat marks sentences their cited abstracts back weakly or not at all (the eval's
scorer), and labels an extractive (no-model) answer as such."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Markdown

from assistant.answer import SupportVerdict
from assistant.config import Settings
from assistant.support import sentence_ends
from shells.tui.citations import SUPPORT_LEGEND, SUPPORT_MARKS, mark_support
from tests.test_tui import QUESTION, ask, make_app, ready

pytestmark = pytest.mark.anyio


def verdict(text: str, verdict: str, *, claim: bool = True) -> SupportVerdict:
    return SupportVerdict.model_validate({"text": text, "verdict": verdict, "claim": claim})


def test_marks_go_after_the_weak_and_unsupported_sentences_and_their_markers() -> None:
    text = "2 papers address this:\n\nA (2024): Alpha beta gamma [1]. Delta epsilon zeta [2].\nEta."
    verdicts = [
        verdict("2 papers address this:", "supported", claim=False),
        verdict("A (2024): Alpha beta gamma.", "weak"),
        verdict("Delta epsilon zeta.", "supported"),
        verdict("Eta.", "unsupported", claim=False),  # not a claim: never marked
    ]
    assert len(sentence_ends(text)) == len(verdicts)
    marked, any_marked = mark_support(text, verdicts)
    assert any_marked
    assert marked == (
        "2 papers address this:\n\n"
        "A (2024): Alpha beta gamma [1]. ⁽?⁾ Delta epsilon zeta [2].\nEta."
    )
    # Verdicts of some other text (a count that does not match) leave the text alone.
    assert mark_support(text, verdicts[:2]) == (text, False)


async def test_extractive_answer_is_labelled_and_has_no_marks_when_all_supported(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        message = await ask(pilot, QUESTION)
        answer = message.answer
        assert answer is not None and answer.answer_mode == "extractive"
        note = str(message.query_one(".note").render())
        assert note.startswith("extractive answer (no model configured)")
        assert "-shown" in message.query_one(".note").classes
        weak = [v for v in answer.support if v.claim and v.verdict != "supported"]
        source = message.query_one(Markdown).source
        assert weak or not any(mark in source for mark in SUPPORT_MARKS.values())
        assert (SUPPORT_LEGEND in note) == bool(weak)


async def test_unsupported_sentences_are_marked_in_place_with_a_legend(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    # The misbehaving model cites the wrong source for every sentence.
    settings = seed_settings.model_copy(update={"model": "offline:wrong-source"})
    app = make_app(settings, seed_index, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        message = await ask(pilot, "What safety moderation tools have been proposed?")
        answer = message.answer
        assert answer is not None
        bad = [v for v in answer.support if v.claim and v.verdict != "supported"]
        assert bad, "the wrong-source model should produce unsupported sentences"
        source = message.query_one(Markdown).source
        marks = sum(source.count(mark) for mark in SUPPORT_MARKS.values())
        assert marks == len(bad)
        assert SUPPORT_LEGEND in str(message.query_one(".note").render())
        # The copied answer (and the saved text) stays unmarked.
        assert not any(mark in answer.answer for mark in SUPPORT_MARKS.values())
