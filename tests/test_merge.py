"""Merging the seeds (49 + 10 records -> 51 papers) and the merge rules on small records."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from retrieval.merge import (
    ABSTRACT_THRESHOLD,
    MIN_WORD_JACCARD,
    abstract_similarity,
    abstract_words,
    merge_papers,
)
from retrieval.models import Paper, SourceRef
from retrieval.parsers import parse_file
from retrieval.resources import seed_files

TODAY = date(2026, 11, 26)

# The 8 papers both seed files hold: arXiv id (from the listing) -> title (from the profile).
SHARED = {
    "2506.07468": "Chasing Moving Targets with Online Self-Play Reinforcement Learning for "
    "Safer Language Models",
    "2506.02175": "AI Debate Aids Assessment of Controversial Claims",
    "2504.13203": "X-Teaming: Multi-Turn Jailbreaks and Defenses with Adaptive Multi-Agents",
    "2504.04377": "PolyGuard: A Multilingual Safety Moderation Tool for 17 Languages",
    "2503.05728": "Political Neutrality in AI Is Impossible- But Here Is How to Approximate It",
    "2502.05305": "Online Covariance Estimation in Nonsmooth Stochastic Approximation",
    "2410.16665": "SafetyAnalyst: Interpretable, Transparent, and Steerable Safety Moderation "
    "for AI Behavior",
    "2410.12104": "To Err is AI : A Case Study Informing LLM Flaw Reporting Practices",
}


@pytest.fixture(scope="module")
def records() -> list[Paper]:
    papers: list[Paper] = []
    for path in seed_files():
        papers.extend(parse_file(path, today=TODAY).papers)
    return papers


@pytest.fixture(scope="module")
def merged(records: list[Paper]) -> list[Paper]:
    return merge_papers(records)


def _get(papers: list[Paper], arxiv_id: str) -> Paper:
    return next(p for p in papers if p.arxiv_id == arxiv_id)


def test_seeds_merge_to_51_papers(records: list[Paper], merged: list[Paper]) -> None:
    assert len(records) == 59
    assert len(merged) == 51
    assert len({p.paper_id for p in merged}) == 51
    two_sources = {p.arxiv_id: p.title for p in merged if len(p.sources) == 2}
    assert two_sources == SHARED
    assert all(len(p.sources) <= 2 for p in merged)


def test_xteaming_merged_record(merged: list[Paper]) -> None:
    x = _get(merged, "2504.13203")
    assert x.title == SHARED["2504.13203"] and not x.title_is_display
    assert (x.paper_id, x.has_code, x.category) == ("2504.13203", True, "CR")
    assert x.url == "https://arxiv.org/abs/2504.13203"
    assert (x.date, x.year) == ("2025-04-15", 2025)  # the profile's full date beats "2025-04"
    assert x.authors == ["Salman Rahman", "Liwei Jiang", "James Shiffer"]
    assert [(s.format, s.line) for s in x.sources] == [("profile", 124), ("arxiv-listing", 3)]


def test_merge_keeps_code_url_and_profile_fields(merged: list[Paper]) -> None:
    neutrality = _get(merged, "2503.05728")
    assert neutrality.code_url == "https://github.com/jfisher52/Approximation_Political_Neutrality"
    assert neutrality.has_code is True  # the profile entry has no Code marker; the listing does
    assert (neutrality.category, neutrality.date) == ("CY", "2025-02-18")
    assert neutrality.affiliations == ["uw"]
    assert [(s.format, s.line) for s in neutrality.sources] == [
        ("profile", 215),
        ("arxiv-listing", 5),
    ]


def test_merge_prefers_the_titled_records_abstract(merged: list[Paper]) -> None:
    safety = _get(merged, "2410.16665")
    assert safety.abstract.startswith("The ideal AI safety moderation system")
    debate = _get(merged, "2506.02175")
    assert "Study II uses AI judges" in debate.abstract


def test_unshared_listing_records_keep_display_titles(merged: list[Paper]) -> None:
    for arxiv_id in ("2410.04265", "2410.03868"):
        p = _get(merged, arxiv_id)
        assert p.title_is_display and p.title.endswith(f"(arXiv:{arxiv_id})")
        assert [s.format for s in p.sources] == ["arxiv-listing"]
    assert [p.arxiv_id for p in merged[-2:]] == ["2410.04265", "2410.03868"]


def test_order_is_first_appearance(records: list[Paper], merged: list[Paper]) -> None:
    assert [p.title for p in merged[:49]] == [p.title for p in records[:49]]
    assert merge_papers(merged) == merged  # merging again changes nothing


def _is_shared_pair(p: Paper, q: Paper) -> bool:
    return any(x.arxiv_id in SHARED and y.title == SHARED[x.arxiv_id] for x, y in ((p, q), (q, p)))


def test_threshold_separates_the_shared_pairs_with_margin(records: list[Paper]) -> None:
    """Every pair of seed abstracts: the 8 true pairs score far above, all others far below."""
    words = [abstract_words(p.abstract) for p in records]
    sets = [set(w) for w in words]

    def jaccard(i: int, j: int) -> float:
        return len(sets[i] & sets[j]) / len(sets[i] | sets[j])

    pairs = list(itertools.combinations(range(len(records)), 2))
    true = [(i, j) for i, j in pairs if _is_shared_pair(records[i], records[j])]
    others = sorted((ij for ij in pairs if ij not in true), key=lambda ij: -jaccard(*ij))
    assert len(true) == 8
    # The cheap word-set pre-check: true pairs >= 0.55, every other pair <= 0.26.
    assert min(jaccard(i, j) for i, j in true) >= MIN_WORD_JACCARD + 0.2
    assert jaccard(*others[0]) <= MIN_WORD_JACCARD - 0.04
    # The deciding word-sequence similarity: true pairs >= 0.56, the closest others <= 0.25.
    assert min(abstract_similarity(words[i], words[j]) for i, j in true) >= (
        ABSTRACT_THRESHOLD + 0.15
    )
    closest = others[:15]
    assert max(abstract_similarity(words[i], words[j]) for i, j in closest) <= (
        ABSTRACT_THRESHOLD - 0.15
    )


# --- merge rules on small records ----------------------------------------------------------


def _paper(n: int, **fields: object) -> Paper:
    base: dict[str, object] = {
        "paper_id": f"p{n}",
        "title": f"Paper number {n}",
        "abstract": f"Abstract {n} talks about topic {n} only.",
        "sources": [SourceRef(file=f"f{n}.jsonl", line=n, format="jsonl")],
    }
    base.update(fields)
    return Paper.model_validate(base)


LONG = (
    "We introduce Zorblax, a streaming tokenizer for quasilinear grammars that parses "
    "Fennimore trees with bounded lookahead, and evaluate it on the Quibble benchmark "
    "where it improves throughput by 4x over Gorp while keeping accuracy."
)


def test_different_arxiv_ids_never_merge() -> None:
    a = _paper(1, arxiv_id="2401.00001", abstract=LONG)
    b = _paper(2, arxiv_id="2401.00002", abstract=LONG, title="Paper number 1")
    assert len(merge_papers([a, b])) == 2


def test_chains_merge_through_union_find() -> None:
    a = _paper(1, title="Zorblax: Streaming Tokenizers", abstract=LONG)
    b = _paper(2, title="Zorblax - streaming tokenizers!", abstract="Short other text.")
    c = _paper(
        3,
        title="Zorblax… (arXiv:2401.00003)",
        title_is_display=True,
        arxiv_id="2401.00003",
        abstract=LONG.replace("4x", "five times"),
    )
    (merged,) = merge_papers([a, b, c])
    assert merged.paper_id == "2401.00003" and merged.arxiv_id == "2401.00003"
    assert merged.title == "Zorblax: Streaming Tokenizers"
    assert [s.file for s in merged.sources] == ["f1.jsonl", "f2.jsonl", "f3.jsonl"]


def test_richest_fields_win() -> None:
    a = _paper(
        1,
        abstract=LONG,
        authors=["A", "B", "C"],
        authors_truncated=True,
        affiliations=["uw"],
        year=2024,
        date="2024",
        category="CL",
    )
    b = _paper(
        2,
        title="Zorblax… (arXiv:2402.00001)",
        title_is_display=True,
        arxiv_id="2402.00001",
        url="https://arxiv.org/abs/2402.00001",
        abstract=LONG + " Code is released.",
        authors=["A", "B"],
        affiliations=["UW", "cmu"],
        date="2024-02",
        year=2024,
        code_url="https://example.org/code",
        has_code=True,
    )
    c = _paper(3, title="Paper number 1", abstract="Different.", authors=["A", "B", "C", "D"])
    (merged,) = merge_papers([a, b, c])
    assert merged.title == "Paper number 1"
    assert merged.authors == ["A", "B", "C", "D"] and not merged.authors_truncated
    assert merged.affiliations == ["uw", "cmu"]
    assert (merged.date, merged.year, merged.category) == ("2024-02", 2024, "CL")
    assert (merged.has_code, merged.code_url) == (True, "https://example.org/code")
    assert merged.url == "https://arxiv.org/abs/2402.00001"
    assert merged.abstract == LONG  # the titled records' versions are preferred
    assert [s.line for s in merged.sources] == [1, 2, 3]


def test_unrelated_records_stay_apart_and_keep_order() -> None:
    papers = [_paper(n) for n in range(5)]
    assert merge_papers(papers) == papers
