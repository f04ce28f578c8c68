"""Which papers and sentences an evidence answer picks: either side of an "A or B" question,
contributions over passing mentions, the sentence that names what a paper introduces."""

from __future__ import annotations

from assistant.answer import SourceGiven
from assistant.chat.base import ModelRequest
from assistant.chat.offline_compose import compose
from assistant.chat.offline_prompt import is_background
from assistant.chat.offline_topic import disjuncts


def given(*papers: tuple[str, str]) -> list[SourceGiven]:
    return [
        SourceGiven(number=i, paper_id=f"p{i}", title=t, text=x, year=2024)
        for i, (t, x) in enumerate(papers, 1)
    ]


def ask(question: str, sources: list[SourceGiven], weights: dict[str, float]) -> str:
    request = ModelRequest(task="answer", question=question, sources=sources, term_weights=weights)
    return compose(request)


def test_disjuncts_coordinate_words_clauses_and_prepositional_phrases() -> None:
    assert disjuncts("Which papers evaluate the safety or policy adherence of LLMs?") == [
        (["safety"], ["policy"])
    ]
    assert disjuncts(
        "Which papers reduce toxicity in generated text or help moderators spot toxic content?"
    ) == [
        (
            ["reduce", "toxicity", "generated", "text"],
            ["help", "moderators", "spot", "toxic", "content"],
        )
    ]
    assert disjuncts(
        "Which papers evaluate the factuality of model outputs or of claims people judge?"
    ) == [(["model", "outputs"], ["claims", "people", "judge"])]
    assert disjuncts("Which papers study moral reasoning?") == []


DETOX = (
    "We present Detoxer, a reinforcement learning method that steers a language model away "
    "from toxic language. Detoxer reduces toxicity of generated text by 40% on web prompts."
)
MODHELP = (
    "We build ModLens, an interface that helps human moderators spot toxic content in "
    "forum posts. Moderators using ModLens flag 12% more toxic posts."
)
TRAVEL = (
    "We study travel chatbots that book flights for users. Our chatbot completes 80% of "
    "bookings without help from human agents."
)
WEIGHTS = {
    "reduc": 1.5, "toxic": 2.5, "generat": 0.8, "text": 0.7, "help": 1.0, "moder": 2.0,
    "spot": 2.2, "content": 1.2,
}  # fmt: skip


def test_a_paper_answering_either_alternative_is_included() -> None:
    sources = given(
        ("Detoxer: Steering Away from Toxic Language", DETOX),
        ("ModLens: Helping Moderators", MODHELP),
        ("Travel Chatbots", TRAVEL),
    )
    text = ask(
        "Which papers reduce toxicity in generated text or help moderators spot toxic content?",
        sources,
        WEIGHTS,
    )
    assert text.startswith("2 papers in the collection address this:")
    assert "Detoxer (2024)" in text and "ModLens (2024)" in text
    assert "Travel" not in text


def test_background_sentences_are_told_from_contributions() -> None:
    assert is_background("Existing safety moderation methods fall short on multilingual input.")
    assert is_background("Prior work has focused on single-turn attacks (Zou et al., 2023).")
    assert not is_background("We show that existing moderation tools fall short on jailbreaks.")
    assert not is_background("We introduce ToyGuard, an open safety moderation tool.")


GUARD = (
    "We introduce ToyGuard, an open safety moderation tool for prompts and responses. "
    "ToyGuard detects jailbreaks and refusals across 13 risk categories."
)
SUITE = (
    "We present PolicySuite, a benchmark of 300 behavioural policies for chat assistants. "
    "Leading models break the policies in up to 84% of multi-turn conversations. "
    "These findings show that existing alignment and safety moderation methods fall short."
)


def test_a_passing_mention_of_the_topic_ranks_below_a_contribution() -> None:
    sources = given(
        ("ToyGuard: Open Safety Moderation Tools", GUARD),
        ("PolicySuite: Stress-Testing Policy Adherence", SUITE),
    )
    weights = {"safeti": 0.8, "moder": 2.2, "tool": 2.0, "propos": 1.0}
    text = ask("What safety moderation tools have been proposed?", sources, weights)
    assert text.startswith("1 paper in the collection addresses this:")
    assert "ToyGuard (2024)" in text and "PolicySuite" not in text


PU = (
    "Positive-unlabeled learning trains classifiers from positive and unlabeled samples. "
    "Each unlabeled sample is tagged positive or negative with a probability based on the "
    "similarity to its positive neighbours. "
    "Existing evaluation methods for unlabeled samples need ground-truth labels. "
    "We estimate the area under the lift without labels for the unlabeled samples. "
    "Secondly, we propose TagBoost, a new training method for imbalanced data where unlabeled "
    "samples far outnumber positive samples."
)


def test_a_which_work_question_quotes_the_sentence_naming_the_contribution() -> None:
    sources = given(("Improving Positive-Unlabeled Learning", PU))
    weights = {"tag": 2.0, "similar": 1.5, "neighbour": 3.0, "ensembl": 2.0, "lift": 3.0}
    text = ask(
        "Which work tags unlabeled samples by the similarity to their positive neighbours and "
        "estimates the area under the lift without ground-truth labels to build an ensemble?",
        sources,
        weights,
    )
    assert "TagBoost" in text


BUILDS_ON = (
    "Prior attacks are single-turn. Building on Raptor, we introduce RaptorSet, a dataset of "
    "30K dialogues for safety training. We present Raptor, a framework that plans multi-turn "
    "attacks with cooperating agents. Raptor reaches a 95% attack success rate."
)
NAMED_IN_TITLE = (
    "We introduce Owlet, a neural model trained to predict judgments about everyday "
    "situations. Owlet generalizes to novel situations with 92% accuracy."
)


def test_what_is_x_leads_with_the_sentence_that_says_what_x_is() -> None:
    weights = {"raptor": 3.0, "owlet": 3.0, "experi": 1.0}
    answer = ask("What is Raptor?", given(("Raptor: Multi-Turn Attacks", BUILDS_ON)), weights)
    body = answer.split("\n\n", 1)[1]
    assert body.startswith("Raptor (2024): The authors present Raptor, a framework")


def test_what_is_the_titled_thing_is_answered_from_that_paper() -> None:
    weights = {"owlet": 3.0, "experi": 1.0}
    sources = given(("The Owlet Experiment", NAMED_IN_TITLE))
    answer = ask("What is the Owlet experiment?", sources, weights)
    assert "do not report" not in answer
    assert "Owlet" in answer.split("\n\n", 1)[1]


TUTORING = (
    "We study whether peer tutoring can help students learn algebra. "
    "Study I recruits students who learn algebra with a peer tutor at school. "
    "Study II recruits students who learn algebra from a peer tutor online. "
    "In Study I, peer tutoring improves the students' algebra scores by 12%."
)


def test_a_yes_no_question_is_answered_with_the_finding() -> None:
    weights = dict.fromkeys(["peer", "tutor", "help", "student", "learn", "algebra"], 1.0)
    answer = ask("Does peer tutoring help students learn algebra?",
                 given(("Peer Tutoring in Rural Schools", TUTORING)), weights)  # fmt: skip
    assert "improves the students' algebra scores by 12%" in answer
