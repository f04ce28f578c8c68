"""Citation markers: parsing, mapping to sources, invalid markers, display helpers."""

from __future__ import annotations

import pytest

from assistant.answer import SourceGiven
from assistant.citations import (
    check_citations,
    cited_numbers,
    renumber,
    strip_markers,
    unsupported_citations,
)


def given(n: int) -> list[SourceGiven]:
    return [
        SourceGiven(number=i, paper_id=f"p{i}", title=f"Paper {i}", text=f"text {i}")
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("A claim [2].", [2]),
        ("Both [1, 3] agree.", [1, 3]),
        ("Both [1; 3] agree.", [1, 3]),
        ("Adjacent [1][3].", [1, 3]),
        ("A range [1-3] and [2–4].", [1, 2, 3, 4]),
        ("Repeats [2] then [2] and [1].", [2, 1]),
        ("Spaces [ 4 ,5 ].", [4, 5]),
        ("Not markers: [a], [1.2], [Smith 2020], a[b], (1).", []),
        ("A huge range [1-500] is read as its ends.", [1, 500]),
        ("Markdown [link](http://x) [7]", [7]),
    ],
)
def test_parse(text: str, numbers: list[int]) -> None:
    assert cited_numbers(text) == numbers


def test_maps_markers_and_reports_invalid_ones() -> None:
    check = check_citations("X [1]. Y [3, 9]. Z [0][2].", given(3))
    assert [(c.marker, c.paper_id, c.title) for c in check.citations] == [
        (1, "p1", "Paper 1"),
        (3, "p3", "Paper 3"),
        (2, "p2", "Paper 2"),
    ]
    assert check.invalid == [9, 0]


def test_no_sources_means_every_marker_is_invalid() -> None:
    check = check_citations("Nothing was given [1].", [])
    assert check.citations == [] and check.invalid == [1]


def test_renumber_and_strip() -> None:
    assert renumber("A [1]. B [2, 5].", {1: 4, 2: 1}) == "A [4]. B [1, 5?]."
    assert strip_markers("A claim [1]. Another [2, 3] here [4].") == "A claim. Another here."


def test_unsupported_citation_heuristic() -> None:
    sources = [
        SourceGiven(
            number=1,
            paper_id="a",
            title="Jailbreaks",
            text="Multi-turn jailbreak attacks on chat models succeed often.",
        ),
        SourceGiven(
            number=2,
            paper_id="b",
            title="Dialogue",
            text="A million-scale social dialogue dataset distilled from a model.",
        ),
    ]
    good = "Multi-turn jailbreak attacks on chat models succeed often [1]."
    assert unsupported_citations(good, sources) == []
    wrong = "Multi-turn jailbreak attacks on chat models succeed often [2]."
    assert unsupported_citations(wrong, sources) == [2]
