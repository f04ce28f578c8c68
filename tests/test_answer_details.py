"""Questions that ask for a specific detail are answered only from sentences that carry it;
otherwise the answer names the papers checked and what they do not report (issue 12)."""

from __future__ import annotations

from assistant.chat.offline_detail import details
from assistant.support import is_abstention
from tests.test_answers import answer


def test_details_are_read_from_the_question() -> None:
    (platform, paid) = details(
        "Which crowdsourcing platform recruited the annotators, and how much were they paid?"
    )
    assert (platform.terms, platform.number, platform.phrase) == (
        frozenset({"platform"}),
        False,
        "the crowdsourcing platform",
    )
    assert paid.number and paid.phrase == "how much they were paid"
    (level,) = details("To what level does ToyGuard cut attack success?")
    assert level.number and not level.terms  # an amount: any number said of it
    (f1,) = details("What average F1 score does ToyGuard reach?")
    assert f1.number and f1.terms == frozenset({"averag", "f1"})
    assert details("What is ToyGuard?") == [] and details("Which papers study moderation?") == []
    assert details("Which work trains a moderation model?") == []  # a paper is asked for


def test_a_detail_no_sentence_carries_is_not_reported() -> None:
    text = answer(
        "Which crowdsourcing platform recruited the ToyGuard annotators, and how much were "
        "they paid?"
    )
    assert text.startswith("The abstracts of ToyGuard [1]")  # (ToyShield names it too)
    assert text.endswith("do not report the crowdsourcing platform or how much they were paid.")
    assert is_abstention(text)


def test_an_amount_is_answered_from_the_sentence_with_the_number() -> None:
    text = answer("To what level does ToyGuard improve F1 over prior classifiers?")
    assert text.startswith("1 paper in the collection addresses this:")
    assert "4.5%" in text.split("\n\n")[1].split("[1]")[0]  # the first sentence quoted


def test_a_question_about_one_named_paper_is_answered_from_it_alone() -> None:
    text = answer("How many labelled prompts are in the dataset ToyGuard is trained on?")
    assert "40K" in text and "[1]" in text and "[2]" not in text  # ToyShield has 20K too


def test_not_reported_with_a_title_that_has_an_exclamation_mark_abstains() -> None:
    one = "The abstracts of Reading Is Great, But Not When Driving! A Study [2] do not report X."
    assert is_abstention(one)
    more = (
        "The abstracts of ToyGuard [1] do not report the batch size. ToyGuard trains its "
        "moderation classifier on 40K labelled prompts in twelve languages [1]."
    )
    assert not is_abstention(more)
