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
    merge_records,
    title_key,
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
    # Changed by issue 11: a shared title alone no longer merges (the abstracts must agree),
    # so b's abstract is now a version of a's.
    a = _paper(1, title="Zorblax: Streaming Tokenizers", abstract=LONG)
    b = _paper(2, title="Zorblax - streaming tokenizers!", abstract=LONG + " Code is out.")
    c = _paper(
        3,
        title="Zorblax… (arXiv:2401.00003)",
        title_is_display=True,
        arxiv_id="2401.00003",
        abstract=LONG.replace("4x", "five times"),
    )
    result = merge_records([a, b, c])
    (merged,) = result.papers
    assert merged.paper_id == "2401.00003" and merged.arxiv_id == "2401.00003"
    assert merged.title == "Zorblax: Streaming Tokenizers"
    assert [s.file for s in merged.sources] == ["f1.jsonl", "f2.jsonl", "f3.jsonl"]
    (event,) = result.merges
    assert [s.file for s in event.sources] == ["f1.jsonl", "f2.jsonl", "f3.jsonl"]
    assert 'f1.jsonl:1 + f2.jsonl:2: same title "Zorblax: Streaming Tokenizers"' in event.reason
    assert "similar abstracts (similarity 0.9" in event.reason
    assert result.conflicts == []


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
    # Changed by issue 11: c merges through the shared title only with a compatible abstract.
    shorter = LONG.replace(" while keeping accuracy", "")
    c = _paper(3, title="Paper number 1", abstract=shorter, authors=["A", "B", "C", "D"])
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


# --- auditable merging (issue 11) -----------------------------------------------------------

OTHER = (
    "Quantum annealers schedule freight trains across alpine passes; we benchmark twelve "
    "heuristics on timetables from three railway operators and report energy savings."
)


def test_seed_merges_are_listed_with_reasons(records: list[Paper]) -> None:
    result = merge_records(records)
    assert len(result.papers) == 51 and result.conflicts == []
    assert sorted(m.paper_id for m in result.merges) == sorted(SHARED)
    reasons = {m.paper_id: m.reason for m in result.merges}
    # The two rewritten abstracts: similar enough, and nothing (id, title) contradicts.
    assert reasons["2410.16665"] == (
        "similar abstracts (similarity 0.56), no conflicting id or title"
    )
    assert "similarity 0.70" in reasons["2506.02175"]
    for m in result.merges:
        assert [s.format for s in m.sources] == ["profile", "arxiv-listing"]


def test_same_arxiv_id_rewritten_abstracts_merge(records: list[Paper]) -> None:
    """The SafetyAnalyst versions (similarity 0.56) under one arXiv id are one paper."""
    profile = next(p for p in records if p.title.startswith("SafetyAnalyst"))
    listing = next(p for p in records if p.arxiv_id == "2410.16665")
    tagged = profile.model_copy(update={"arxiv_id": "2410.16665"})
    result = merge_records([tagged, listing])
    (paper,) = result.papers
    assert paper.paper_id == "2410.16665" and paper.title.startswith("SafetyAnalyst")
    (event,) = result.merges
    assert event.reason == "same arXiv id 2410.16665, abstract similarity 0.56"


def test_same_arxiv_id_different_abstracts_is_a_reported_conflict() -> None:
    a = _paper(1, paper_id="2401.00001", arxiv_id="2401.00001", abstract=LONG, title="Zorblax")
    b = _paper(2, paper_id="2401.00001", arxiv_id="2401.00001", abstract=OTHER, title="Trains")
    result = merge_records([a, b])
    assert [p.title for p in result.papers] == ["Zorblax", "Trains"]
    assert [p.abstract for p in result.papers] == [LONG, OTHER]  # nothing mixed
    assert [p.paper_id for p in result.papers] == ["2401.00001", "2401.00001~2"]
    assert result.merges == []
    (conflict,) = result.conflicts
    assert str(conflict) == (
        "f2.jsonl:2: conflicts with f1.jsonl:1 (same arXiv id 2401.00001, different abstracts)"
    )
    assert (conflict.key, conflict.paper_id, conflict.other_paper_id) == (
        "arXiv id 2401.00001",
        "2401.00001~2",
        "2401.00001",
    )
    assert conflict.similarity < ABSTRACT_THRESHOLD
    # Merging the result again changes nothing and reports the same conflict.
    again = merge_records(result.papers)
    assert again.papers == result.papers and len(again.conflicts) == 1


def test_same_id_with_an_empty_abstract_merges() -> None:
    a = _paper(1, arxiv_id="2401.00001", abstract=LONG)
    b = _paper(2, arxiv_id="2401.00001", abstract="", title="Zorblax")
    result = merge_records([a, b])
    (paper,) = result.papers
    assert paper.abstract == LONG
    assert result.merges[0].reason == "same arXiv id 2401.00001, one abstract is empty"


def test_same_doi_merges_and_different_dois_never_do() -> None:
    a = _paper(1, doi="10.1145/3.14", abstract=LONG, title="Zorblax")
    b = _paper(2, doi="10.1145/3.14", abstract=LONG + " Extra.", title="Zorblax Streams")
    c = _paper(3, doi="10.1145/2.71", abstract=LONG, title="Zorblax")
    result = merge_records([a, b, c])
    assert [len(p.sources) for p in result.papers] == [2, 1]
    assert result.merges[0].reason.startswith("same DOI 10.1145/3.14, ")
    (conflict,) = result.conflicts
    # A shared title under different DOIs is two papers; their identical abstracts are said.
    assert conflict.reason == (
        "near-identical abstracts (similarity 1.00), different DOIs 10.1145/3.14 and 10.1145/2.71"
    )


def test_same_title_different_abstracts_is_a_conflict() -> None:
    a = _paper(1, title="Zorblax: Streaming Tokenizers", abstract=LONG)
    b = _paper(2, title="ZORBLAX — streaming tokenizers", abstract=OTHER)
    result = merge_records([a, b])
    assert len(result.papers) == 2
    assert result.papers[0].paper_id != result.papers[1].paper_id
    (conflict,) = result.conflicts
    assert str(conflict) == (
        "f2.jsonl:2: conflicts with f1.jsonl:1 "
        '(same title "Zorblax: Streaming Tokenizers", different abstracts)'
    )


def test_same_title_different_arxiv_ids_are_two_papers_without_conflict() -> None:
    a = _paper(1, title="Introduction", arxiv_id="2401.00001", abstract=LONG)
    b = _paper(2, title="Introduction", arxiv_id="2401.00002", abstract=OTHER)
    result = merge_records([a, b])
    assert len(result.papers) == 2 and result.conflicts == []


def test_non_latin_titles_have_keys_of_their_own() -> None:
    assert title_key("Обучение языковых моделей") == "обучение языковых моделей"
    assert title_key("Обучение  языковых МОДЕЛЕЙ!") == "обучение языковых моделей"
    assert title_key("Обучение языковых моделей") != title_key("Оценка языковых моделей")
    assert title_key("大型语言模型的安全性") == "大型语言模型的安全性"
    assert title_key("Ｓｔｒａｓｓｅ") == title_key("STRASSE") == title_key("straße")  # NFKC
    assert title_key("Μηχανική Μάθηση") == "μηχανική μάθηση"
    assert title_key("हिन्दी भाषा") == "हिन्दी भाषा"  # combining vowel signs kept
    assert title_key("—!?") is None


def test_two_russian_titled_papers_never_merge() -> None:
    """Issue 11 case 1: different Cyrillic titles once normalized to the same empty key."""
    a = _paper(1, title="Обучение языковых моделей безопасности", abstract=LONG)
    b = _paper(2, title="Оценка устойчивости диалоговых систем", abstract=LONG + " Also.")
    result = merge_records([a, b])
    assert [p.title for p in result.papers] == [a.title, b.title]
    assert len({p.paper_id for p in result.papers}) == 2
    (conflict,) = result.conflicts  # near-identical abstracts under different titles: said
    assert conflict.key == "abstract"
    assert conflict.reason.startswith("near-identical abstracts (similarity 0.9")
    assert conflict.reason.endswith("different titles")
    # The same Russian title, spelled with other spacing and case, does merge.
    c = _paper(3, title="обучение  ЯЗЫКОВЫХ моделей безопасности", abstract=LONG)
    assert len(merge_records([a, c]).papers) == 1


def test_cyrillic_abstracts_are_compared_by_their_words() -> None:
    text = "Мы изучаем безопасность больших языковых моделей в многоходовых диалогах " * 3
    assert abstract_words("Привет, мир!") == ["привет", "мир"]
    assert abstract_words("大型语言") == ["大", "型", "语", "言"]
    a = _paper(1, title="Обучение", abstract=text)
    b = _paper(2, title="Обучение", abstract="Совсем другой текст про поезда и горы " * 3)
    assert len(merge_records([a, b]).conflicts) == 1
    d = _paper(4, arxiv_id="2401.00009", title="x", title_is_display=True, abstract=text)
    assert len(merge_records([a, d]).papers) == 1  # a titled record + an id-only record


def test_different_arxiv_ids_with_near_identical_abstracts_are_reported() -> None:
    a = _paper(1, arxiv_id="2401.00001", abstract=LONG)
    b = _paper(2, arxiv_id="2401.00002", abstract=LONG, title="Paper number 1")
    result = merge_records([a, b])
    assert len(result.papers) == 2
    (conflict,) = result.conflicts
    assert conflict.reason == (
        "near-identical abstracts (similarity 1.00), different arXiv ids 2401.00001 and 2401.00002"
    )
