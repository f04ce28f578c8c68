"""List and metadata questions read the paper table, not every record: the SQL filters,
author lookup and title resolution give what the in-memory versions give, over segments
with deletions; and a list longer than the answer's room is listed in part, said so, and
the command succeeds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant.metadata import name_spans, parse, records_lookup
from retrieval.records import RecordFilter, author_names, select_ids, titles
from retrieval.resolve import resolve_reference
from tests.home_copy import run_ra
from tests.test_state_segments import _segmented


def _expected(papers: list[Any], f: RecordFilter) -> list[str]:
    def keep(p: Any) -> bool:
        if f.year_from is not None and (p.year is None or p.year < f.year_from):
            return False
        if f.year_to is not None and (p.year is None or p.year > f.year_to):
            return False
        return f.author is None or f.author.lower() in [a.lower() for a in p.authors]

    found = [p for p in papers if keep(p)]
    return [
        p.paper_id for p in sorted(found, key=lambda p: (p.year or 0, p.date or "", p.paper_id))
    ]


@pytest.mark.parametrize(
    "f",
    [
        RecordFilter(year_from=2022, year_to=2022),
        RecordFilter(year_from=2023),
        RecordFilter(year_to=2021, author="AUTHOR 3"),
        RecordFilter(author="author 5"),
        RecordFilter(author="author"),  # a part of a name is no name
        RecordFilter(),
    ],
)
def test_record_filters_equal_filtering_every_live_record(tmp_path: Path, f: RecordFilter) -> None:
    state, _ = _segmented(tmp_path)
    papers = state.papers()  # live papers only: the state has deletions in two segments
    assert len(papers) == 225
    got = select_ids(state, f)
    assert got == _expected(papers, f)
    if f.author == "author":
        assert got == []


def test_author_lookup_finds_whole_names_of_live_papers_only(tmp_path: Path) -> None:
    state, _ = _segmented(tmp_path)
    live = {a for p in state.papers() for a in p.authors}
    found = author_names(state, ["author 3", "Author 6", "author", "author 33", "nobody"])
    assert found == {n.lower(): n for n in ("Author 3", "Author 6") if n in live}
    assert set(found) == {"author 3", "author 6"}


def test_a_question_names_its_author_from_the_lookup() -> None:
    spans = name_spans("Which papers were written by J. Smith and Liwei Jiang since 2023?")
    assert "j. smith" in spans and "liwei jiang" in spans
    assert not any(s.split()[0] in ("which", "by", "since") for s in spans)
    query = parse("Which papers were written by Liwei Jiang since 2023?", lambda w: {
        n: "Liwei Jiang" for n in w if n == "liwei jiang"})  # fmt: skip
    assert query is not None and query.author == "Liwei Jiang" and query.year_from == 2023
    lookup = records_lookup([])
    assert parse("papers by Liwei Jiang", lookup) is None  # no such author: no filter at all
    for question, name in [
        ("Which of Yejin Choi’s papers were published in 2023?", "yejin choi"),
        ("list papers by Minh Do", "minh do"),
        ("papers by Bo An in 2024", "bo an"),
        ("papers by Smith/Jones in 2020", "jones"),
        ("papers by liwei jiang", "liwei jiang"),
    ]:
        assert name in name_spans(question), question


def test_a_very_long_list_question_is_parsed(seed_index: Any) -> None:
    question = "Which papers by " + " ".join(f"Word{i} Name" for i in range(400)) + " in 2024?"
    query = parse(question, seed_index.author_names)
    assert query is not None and query.author is None and query.year_from == 2024


def test_resolving_by_titles_equals_resolving_over_records(seed_index: Any) -> None:
    papers = seed_index.papers()
    rows = titles(seed_index._search_state())
    assert [r.paper_id for r in rows] == [p.paper_id for p in papers]
    for ref in ("X-Teaming", "2504.13203", "wildguard", "the PolyGuard paper", "safety", "zzz"):
        expected = [p.paper_id for p in resolve_reference(ref, papers)]
        assert [t.paper_id for t in resolve_reference(ref, rows)] == expected, ref
        assert [p.paper_id for p in seed_index.resolve(ref)] == expected, ref


def test_a_list_longer_than_the_answer_is_listed_in_part_and_succeeds(tmp_path: Path) -> None:
    rows = [
        {
            "title": f"Study number {i} of lexical drift in archive {i}",
            "abstract": f"We measure lexical drift in archive {i} over {i + 3} decades.",
            "authors": ["Ana Lima", "Bo Liu" if i < 119 else "Bo Li"],
            "year": 2020,
            "arxiv_id": f"2001.{i:05d}",
        }
        for i in range(120)
    ]
    corpus = tmp_path / "many.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    home = tmp_path / "home"

    def ra(*args: str) -> subprocess.CompletedProcess[str]:
        return run_ra(home, *args)

    assert ra("ingest", str(corpus)).returncode == 0
    done = ra("ask", "Which papers were published in 2020?", "--json")
    assert done.returncode == 0, done.stderr  # a partial list that says so is a full answer
    data = json.loads(done.stdout)
    assert not data["incomplete"] and data["finish_reason"] == "stop"
    cited = [c["paper_id"] for c in data["citations"]]
    shown = len(cited)
    assert 10 < shown < 120
    assert data["answer"].startswith(
        f"The collection has 120 papers published in 2020 (the first {shown}, oldest first, "
        "are listed; a narrower question (an author or a topic) lists the others):"
    )
    assert data["answer"].count("\n- ") == shown
    ids = sorted(f"2001.{i:05d}" for i in range(120))  # same year and date: by id
    assert sorted(cited) == ids[:shown]
    only = json.loads(ra("ask", "Which papers are by Bo Li?", "--json").stdout)
    assert only["answer"].startswith("The collection has 1 paper with Bo Li among the listed")
    assert [c["paper_id"] for c in only["citations"]] == ["2001.00119"]  # not the 119 Bo Liu
    by_author = ra("ask", "How many papers are by Ana Lima?", "--json")
    assert by_author.returncode == 0, by_author.stderr
    assert json.loads(by_author.stdout)["answer"].startswith(
        "The collection has 120 papers with Ana Lima among the listed authors"
    )


def test_a_list_with_a_topic_equals_selecting_over_every_record(seed_index: Any) -> None:
    from assistant.metadata import select
    from assistant.sources import listing_sources

    papers = seed_index.papers()
    for question in (
        "Which papers from 2024 are about jailbreaks?",
        "Which papers by Liwei Jiang study moral reasoning?",
        "Which papers since 2023 release code for safety moderation?",
        "Which papers from 2025 are about quokkas?",  # a word no record has frames it
    ):
        got = listing_sources(seed_index, question)
        assert got is not None, question
        expected = select(parse(question, papers), papers)  # type: ignore[arg-type]
        assert [s.paper_id for s in got[0]] == [p.paper_id for p in expected], question
        assert got[1].total == len(expected)


def test_a_paper_named_by_its_short_title_resolves_as_over_every_title(
    seed_settings: Any, seed_index: Any
) -> None:
    from assistant.errors import PaperNotFound
    from assistant.orchestrator import Assistant

    bot = Assistant(seed_settings, index=seed_index)
    checked = 0
    for paper in seed_index.papers():
        short = paper.title.split(":")[0].strip()
        for ref in (short, paper.title, paper.paper_id):
            expected = seed_index.resolve(ref)
            try:
                got = [bot.resolve_paper(ref).paper_id]
            except PaperNotFound:
                got = []
            if len(expected) == 1:
                checked += 1
                assert got == [expected[0].paper_id], ref
            else:
                assert got == [], ref
    assert checked > 100


def test_years_possessives_and_the_whole_collection_are_read_from_the_question() -> None:
    known = {"liwei jiang": "Liwei Jiang", "peter west": "Peter West"}

    def q(text: str) -> Any:
        return parse(text, lambda w: {n: known[n] for n in w if n in known})

    def years(text: str) -> Any:
        found = q(text)
        return found and (found.year_from, found.year_to)

    assert years("Which papers are from 2024?") == (2024, 2024)  # from a year: in it
    assert years("Which papers from 2024 release code?") == (2024, 2024)
    assert years("List the papers from 2025 onwards.") == (2025, None)
    assert years("papers after 2023") == (2024, None)
    assert years("papers 2023 onwards") == (2023, None)
    assert years("Which papers were published in 2024 and 2025?") == (2024, 2025)
    assert years("papers between 2025 and 2024") == (2024, 2025)
    assert years("Which papers were published in 2021 and 2024?") != (2021, 2024)
    assert q("Liwei Jiang's papers").author == "Liwei Jiang"
    assert q("What has Peter West written?").author == "Peter West"
    whole = q("How many papers are in the collection?")
    assert whole.kind == "count" and whole.criteria() == "" and not whole.topic
    assert q("list all papers") is not None
    assert q("Which papers study multi-turn jailbreaks?") is None  # a topic only: search
    topical = q("Which 2025 papers study multilingual safety?")
    assert topical.criteria() == "published in 2025, about multilingual safety"  # not stems


def test_a_topic_no_listed_record_has_narrows_to_none_or_is_said_to_be_left_out(
    seed_index: Any,
) -> None:
    from assistant.sources import listing_sources
    from tests.reference_stats import TermStats

    stats = TermStats.build(f"{p.title} {p.abstract}" for p in seed_index.papers())

    def known(t: str) -> bool:
        return stats.df.get(t, 0) > 0

    none = listing_sources(seed_index, "Which papers from 2021 are about jailbreaks?", None, known)
    assert none is not None and none[1].total == 0 and not none[1].query.ignored
    kept = listing_sources(seed_index, "Which 2024 papers are about quokka husbandry?", None, known)
    assert kept is not None and kept[1].query.ignored == ["quokka", "husbandry"]
    in_2024 = [p for p in seed_index.papers() if p.year == 2024]
    assert kept[1].total == len(in_2024)  # nobody has the words: listed, and said so
    both = listing_sources(seed_index, "Which 2025 papers study multilingual safety?", None, known)
    assert both is not None and all(
        "multilingual" in (s.title + s.text).lower() for s in both[0]
    )  # two topic words: both needed


def test_follow_ups_on_a_list_keep_its_filters(seed_index: Any, tmp_path: Path) -> None:
    from assistant.config import load_settings
    from assistant.orchestrator import Assistant

    bot = Assistant(load_settings(home=tmp_path / "home", model="offline"), index=seed_index)
    papers = seed_index.papers()
    first = bot.ask("Which papers are by Liwei Jiang?")
    cid = first.conversation_id
    code = bot.ask("which of them release code?", conversation_id=cid)
    year = bot.ask("and which of them are from 2024?", conversation_id=cid)
    expected = {p.paper_id for p in papers if "Liwei Jiang" in p.authors and p.has_code
                and p.year == 2024}  # fmt: skip
    assert {c.paper_id for c in year.citations} == expected and expected
    assert code.standalone_query and "Liwei Jiang" in code.standalone_query
    assert year.standalone_query and "Liwei Jiang" in year.standalone_query


def test_list_rows_are_not_flagged_as_sharing_few_words(
    seed_settings: Any, seed_index: Any
) -> None:
    from assistant.orchestrator import Assistant

    got = Assistant(seed_settings, index=seed_index).ask("Which papers were published in 2023?")
    assert got.citations and got.unsupported_citations == []
    assert all(v.verdict == "supported" for v in got.support)


def test_record_questions_by_an_arxiv_reference_or_an_introduced_name(
    seed_settings: Any, seed_index: Any
) -> None:
    from assistant.orchestrator import Assistant

    bot = Assistant(seed_settings, index=seed_index)
    bare = next(p for p in seed_index.papers() if p.arxiv_id and not p.authors)
    got = bot.ask(f"Who wrote arXiv {bare.arxiv_id}?")
    assert [c.paper_id for c in got.citations] == [bare.paper_id] and "no authors" in got.answer
    delphi = bot.ask("When was the Delphi paper published?")  # the name its abstract gives
    assert delphi.answer.startswith("Can Machines Learn Morality? The Delphi Experiment was")
    assert "published in 2021" in delphi.answer
