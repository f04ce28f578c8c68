"""Metric unit tests with hand-computed values."""

from __future__ import annotations

import math

import pytest

from evals.metrics import (
    answer_support,
    citation_validity,
    content_words,
    fact_recall,
    mean,
    ndcg_at_k,
    parse_markers,
    percentile,
    precision_recall,
    recall_at_k,
    reciprocal_rank,
    split_sentences,
    support_score,
)


def test_recall_at_k() -> None:
    ranked = ["a", "b", "c", "d"]
    assert recall_at_k(ranked, {"b", "d"}, 2) == 0.5
    assert recall_at_k(ranked, {"b", "d"}, 4) == 1.0
    assert recall_at_k(ranked, {"x"}, 4) == 0.0
    assert recall_at_k(ranked, set(), 4) == 0.0


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["a", "b", "c"], {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a", "b", "c"], {"b", "c"}) == 0.5
    assert reciprocal_rank(["a"], {"z"}) == 0.0


def test_ndcg_binary_by_hand() -> None:
    # gold {a, c}; ranking [b, a, c]: DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3)
    dcg = 1 / math.log2(3) + 1 / 2
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(["b", "a", "c"], {"a", "c"}, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "c", "b"], {"a", "c"}, 10) == pytest.approx(1.0)
    # cut-off: only the first rank counts, one of two gold docs -> 0 / idcg@1
    assert ndcg_at_k(["b", "a"], {"a", "c"}, 1) == 0.0
    assert ndcg_at_k([], {"a"}, 10) == 0.0


def test_ndcg_graded() -> None:
    # gains a=2, b=1; ranking [b, a]: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    got = ndcg_at_k(["b", "a"], {"a": 2.0, "b": 1.0}, 10)
    assert got == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_markers() -> None:
    assert parse_markers("x [2] y [1, 3] z [1][4]. [ 5 ]") == [2, 1, 3, 1, 4, 5]
    assert parse_markers("no markers [a] [1.5]") == []


def test_validity_and_precision_recall() -> None:
    assert citation_validity(3, 1) == 0.75
    assert citation_validity(0, 0) is None
    assert precision_recall({"a", "b", "x"}, {"a", "b", "c", "d"}) == (2 / 3, 0.5)
    assert precision_recall(set(), {"a"}) == (0.0, 0.0)


def test_split_sentences_attaches_markers() -> None:
    text = (
        "Models fail, e.g. on puzzles [1]. Dziri et al. show limits [2][3].\n"
        "- A bullet point here [4]\n- Reading Books is Great! Driving (2023) [7]\n"
        "Trailing sentence. [5]\n"
        "What Makes it Ok? — A titled sentence [6]. Why not? lower case goes on."
    )
    got = [(s.text, s.markers) for s in split_sentences(text)]
    assert got == [
        ("Models fail, e.g. on puzzles.", [1]),
        ("Dziri et al. show limits.", [2, 3]),
        ("- A bullet point here", [4]),
        ("- Reading Books is Great! Driving (2023)", [7]),  # a list item is one unit
        ("Trailing sentence.", [5]),
        ("What Makes it Ok? — A titled sentence.", [6]),
        ("Why not? lower case goes on.", []),
    ]


def test_content_words_and_support_score() -> None:
    words = content_words("The models are running on 17 languages")
    assert words == {"model", "run", "17", "languag"}
    src = "PolyGuard is trained on a corpus across 17 languages."
    # content words: polyguard, cover, 17, languag -> 3 of 4 in the source
    assert support_score("PolyGuard covers 17 languages", src) == 0.75
    assert support_score("", src) == 0.0


def test_answer_support() -> None:
    sources = {
        1: "X-Teaming achieves a 96.2% attack success rate against Claude 3.7 Sonnet.",
        2: "PolyGuard covers 17 languages.",
    }
    answer = (
        "X-Teaming achieves a 96.2% attack success rate against Claude [1]. "
        "PolyGuard covers 17 languages [1]. "
        "Quantum computers factor large numbers [2]. "
        "It is multilingual. "
        "Unsupported but true: PolyGuard covers 17 languages. "
        "Bad marker: PolyGuard covers 17 languages [9]."
    )
    res = answer_support(answer, sources)
    # "It is multilingual." has 1 content word: not a claim.
    assert res.n_claims == 5
    assert [s.supported for s in res.sentences] == [True, False, False, False, False]
    assert res.share == pytest.approx(1 / 5)
    assert res.n_cited == 4
    assert answer_support("", sources).share is None


def test_facts() -> None:
    assert fact_recall("It covers 17  Languages and 1.91M samples", ["17 languages", "2M"]) == 0.5
    assert fact_recall("a 5.7\\% gain", ["5.7%"]) == 1.0
    assert fact_recall("anything", []) is None


def test_mean_and_percentile() -> None:
    assert mean([1.0, None, 3.0]) == 2.0
    assert mean([None]) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([], 50) is None
