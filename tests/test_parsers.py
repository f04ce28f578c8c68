"""Parsers against the real seed files and small malformed inputs (no mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from retrieval.errors import RetrievalError
from retrieval.models import Paper, ParseResult
from retrieval.parsers import SourceFileError, detect_format, iter_source_files, parse_file
from retrieval.parsers.arxiv_listing import display_title, split_id
from retrieval.resources import seed_files

INPUTS = Path(__file__).parent / "data" / "inputs"
TODAY = date(2026, 11, 26)


def _seed(prefix: str) -> Path:
    return next(p for p in seed_files() if p.name.startswith(prefix))


@pytest.fixture(scope="module")
def profile() -> ParseResult:
    return parse_file(_seed("002_"), today=TODAY)


@pytest.fixture(scope="module")
def listing() -> ParseResult:
    return parse_file(_seed("004_"))


def _by_title(result: ParseResult, title: str) -> Paper:
    return next(p for p in result.papers if p.title == title)


def _by_id(result: ParseResult, arxiv_id: str) -> Paper:
    return next(p for p in result.papers if p.arxiv_id == arxiv_id)


def _messages(result: ParseResult) -> dict[int, str]:
    return {i.line: i.message for i in result.issues}


# --- the profile listing (002_*.txt) -------------------------------------------------------


def test_profile_seed_has_49_clean_records(profile: ParseResult) -> None:
    assert len(profile.papers) == 49
    assert profile.issues == []
    assert all(p.sources[0].format == "profile" for p in profile.papers)
    assert len({p.paper_id for p in profile.papers}) == 49


def test_profile_first_entry_fields(profile: ParseResult) -> None:
    p = profile.papers[0]
    assert (
        p.title == "HAICOSYSTEM: An Ecosystem for Sandboxing Safety Risks in Human-AI Interactions"
    )
    assert p.authors == ["Xuhui Zhou", "Hyunwoo Kim", "Faeze Brahman"]
    assert p.authors_truncated is True
    assert p.affiliations == ["allen-ai", "cmu"]
    assert (p.category, p.date, p.year, p.has_code) == ("AI", "2024-09-24", 2024, True)
    assert p.arxiv_id is None and not p.title_is_display
    assert p.abstract.startswith("AI agents are increasingly autonomous in their interactions")
    assert p.abstract.endswith("evaluate the safety and performance of their agents.")
    assert p.sources[0].line == 12
    assert p.sources[0].file == str(_seed("002_"))


def test_profile_xteaming_entry(profile: ParseResult) -> None:
    p = _by_title(
        profile, "X-Teaming: Multi-Turn Jailbreaks and Defenses with Adaptive Multi-Agents"
    )
    assert p.authors == ["Salman Rahman", "Liwei Jiang", "James Shiffer"]
    assert p.authors_truncated is True and p.affiliations == []
    assert (p.category, p.date, p.year, p.has_code) == ("CR", "2025-04-15", 2025, True)
    assert p.sources[0].line == 124


def test_profile_full_author_list_without_affiliations(profile: ParseResult) -> None:
    p = _by_title(
        profile,
        "Algorithmic Regularization in Model-free Overparametrized Asymmetric Matrix Factorization",
    )
    assert p.authors == ["Liwei Jiang", "Yudong Chen", "Lijun Ding"]
    assert p.authors_truncated is False and p.affiliations == []
    assert (p.category, p.date, p.has_code) == ("LG", "2022-03-06", False)
    assert p.sources[0].line == 89


def test_profile_non_ascii_authors(profile: ParseResult) -> None:
    p = _by_title(
        profile,
        "Preconditioned subgradient method for composite optimization: "
        "overparameterization and fast convergence",
    )
    assert p.authors == ["Mateo Díaz", "Liwei Jiang", "Abdel Ghani Labassi"]
    assert (p.category, p.date) == ("OC", "2025-09-15")


def test_profile_last_entry_without_trailing_newline(profile: ParseResult) -> None:
    p = profile.papers[-1]
    assert p.title.startswith("Improving Positive Unlabeled Learning: Practical AUL Estimation")
    assert p.authors == ["Liwei Jiang", "Dan Li", "Qisheng Wang"]
    assert (p.category, p.date, p.sources[0].line) == ("LG", "2020-04-21", 348)
    assert p.abstract.endswith("based on three industrial and two artificial PU data sets.")


def test_profile_dates_without_year_use_today(profile: ParseResult) -> None:
    odesteer = "ODESteer: A Unified ODE-Based Steering Framework for LLM Alignment"
    useless = (
        "Useless but Safe? Benchmarking Utility Recovery with User Intent Clarification "
        "in Multi-Turn Conversations"
    )
    assert _by_title(profile, odesteer).date == "2026-02-19"
    assert _by_title(profile, useless).date == "2026-04-29"
    earlier = parse_file(_seed("002_"), today=date(2025, 1, 2))
    assert _by_title(earlier, odesteer).date == "2025-02-19"
    assert _by_title(earlier, odesteer).year == 2025
    assert _by_title(earlier, useless).authors == ["Mingqian Zheng", "Malia Morgan", "Liwei Jiang"]


def test_profile_malformed_entries_are_reported_and_skipped() -> None:
    path = INPUTS / "profile_mixed.txt"
    result = parse_file(path, today=TODAY)
    assert [(p.sources[0].line, p.title) for p in result.papers] == [
        (8, "A Good Paper About Parsing"),
        (16, "A Paper Without A Year"),
        (46, "The Last Good Paper"),
    ]
    good = result.papers[0]
    assert good.abstract == "We parse things. This abstract runs over two lines."
    assert good.authors == ["Ada Lovelace", "Charles Babbage"] and good.authors_truncated
    assert good.affiliations == ["uw", "cmu"] and good.has_code and good.category == "CL"
    assert result.papers[1].date == "2026-02-19"
    assert result.papers[2].affiliations == ["tue"]
    messages = _messages(result)
    assert sorted(messages) == [23, 30, 36, 41]
    assert "bad date" in messages[23] and "CLFoo 99, 2024" in messages[23]
    assert "missing title" in messages[30]
    assert "missing authors line" in messages[36]
    assert "missing abstract" in messages[41]
    assert str(result.issues[0]).startswith(f"{path}:23: ")


def test_crlf_and_bom_give_the_same_records(tmp_path: Path) -> None:
    for name in ("profile_mixed.txt", "arxiv_mixed.txt", "malformed.jsonl", "malformed.bib"):
        original = parse_file(INPUTS / name, today=TODAY)
        text = (INPUTS / name).read_text().replace("\n", "\r\n")
        copy = tmp_path / name
        copy.write_bytes(("\ufeff" + text).encode())
        again = parse_file(copy, today=TODAY)
        assert [p.model_dump(exclude={"sources"}) for p in again.papers] == [
            p.model_dump(exclude={"sources"}) for p in original.papers
        ]
        assert [p.sources[0].line for p in again.papers] == [
            p.sources[0].line for p in original.papers
        ]
        assert [i.line for i in again.issues] == [i.line for i in original.issues]


def test_profile_impossible_day_and_announced_count(tmp_path: Path) -> None:
    text = "Someone\n\n2 Papers\n\nCLFeb 29\nLeap Day Paper\n\nA B\n\nAn abstract.\n"
    path = tmp_path / "p.txt"
    path.write_text(text)
    result = parse_file(path, today=date(2025, 6, 1))  # 2025 is not a leap year
    assert result.papers == []
    messages = _messages(result)
    assert "day is out of range" in messages[5]
    assert "announces 2 papers but 1 entries" in messages[3]
    assert parse_file(path, today=date(2024, 6, 1)).papers[0].date == "2024-02-29"


# --- the arXiv listing (004_*.txt) ---------------------------------------------------------


def test_listing_seed_has_10_records_in_file_order(listing: ParseResult) -> None:
    assert listing.issues == []
    assert [p.arxiv_id for p in listing.papers] == [
        "2506.07468",
        "2506.02175",
        "2504.13203",
        "2504.04377",
        "2503.05728",
        "2502.05305",
        "2410.16665",
        "2410.12104",
        "2410.04265",
        "2410.03868",
    ]
    # Each abstract starts on the line of the previous id (the first on line 1).
    assert [p.sources[0].line for p in listing.papers] == [1, 2, 3, 4, 5, 7, 9, 10, 12, 13]
    assert all(p.sources[0].format == "arxiv-listing" for p in listing.papers)


def test_listing_fields(listing: ParseResult) -> None:
    x = _by_id(listing, "2504.13203")
    assert x.abstract.startswith("Multi-turn interactions with language models (LMs) pose")
    assert x.abstract.endswith("advancing the multi-turn safety of LMs.")
    assert (x.year, x.date, x.paper_id) == (2025, "2025-04", "2504.13203")
    assert x.url == "https://arxiv.org/abs/2504.13203"
    assert x.has_code is False and x.code_url is None and x.authors == []
    neutrality = _by_id(listing, "2503.05728")
    assert neutrality.code_url == "https://github.com/jfisher52/Approximation_Political_Neutrality"
    assert neutrality.has_code is True
    assert "Code:" not in neutrality.abstract
    covariance = _by_id(listing, "2502.05305")
    assert "46 pages" not in covariance.abstract
    assert covariance.abstract.endswith("performing hypothesis testing.")
    assert (
        "8 pages"
        not in _by_id(listing, "2410.16665").abstract + _by_id(listing, "2410.12104").abstract
    )
    last = _by_id(listing, "2410.03868")
    assert last.abstract.endswith("opportunities for advancing individualistic alignment.")
    assert (last.year, last.date) == (2024, "2024-10")


def test_listing_display_titles_are_not_invented(
    listing: ParseResult, profile: ParseResult
) -> None:
    real_titles = {p.title for p in profile.papers}
    for p in listing.papers:
        assert p.title_is_display
        assert p.title.endswith(f"(arXiv:{p.arxiv_id})")
        words = p.title.split("…")[0].split()
        assert len(words) >= 4
        assert p.abstract.split()[: len(words)] == words
        assert p.title not in real_titles
    creativity = _by_id(listing, "2410.04265")
    assert creativity.title.startswith("Creativity has long been considered one of the most")


def test_display_title_shapes() -> None:
    assert display_title("We study X. Then Y.", "2401.00001") == "We study X… (arXiv:2401.00001)"
    assert display_title("One two three four five six seven eight nine ten.") == (
        "One two three four five six seven eight nine…"
    )


def test_listing_malformed_records() -> None:
    path = INPUTS / "arxiv_mixed.txt"
    result = parse_file(path)
    first, second = result.papers
    assert (first.arxiv_id, first.sources[0].line) == ("2401.01234", 1)
    assert first.code_url == "https://github.com/example/parsing" and first.has_code
    assert first.abstract == (
        "We study parsing of listings. Parsing is fun and useful for many things."
    )
    assert (second.arxiv_id, second.sources[0].line, second.date) == ("0704.0001", 5, "2007-04")
    assert second.abstract == "Third abstract follows a bad id and is fine."
    messages = _messages(result)
    assert sorted(messages) == [5, 7]
    assert "invalid arXiv id '2413.00001'" in messages[5] and "line 4" in messages[5]
    assert "no closing arXiv id" in messages[7]


def test_split_id_keeps_the_next_abstract() -> None:
    assert split_id("2506.07468As AI grows") == ("2506.07468", "2506.07468", "As AI grows")
    assert split_id("2410.16665v3In August") == ("2410.16665", "2410.16665v3", "In August")
    assert split_id("0704.00012D shapes") == ("0704.0001", "0704.0001", "2D shapes")
    assert split_id("hep-th/9901001v2We") == ("hep-th/9901001", "hep-th/9901001v2", "We")
    assert split_id("2506.0746As AI")[0] is None


# --- JSONL ---------------------------------------------------------------------------------


def test_jsonl_valid_records() -> None:
    result = parse_file(INPUTS / "valid.jsonl")
    assert result.issues == []
    attention, strings, xteam, bibstyle = result.papers
    assert attention.arxiv_id == "1706.03762" and attention.paper_id == "1706.03762"
    assert attention.title == "Attention Is All You Need"
    assert attention.authors == ["Ashish Vaswani", "Noam Shazeer"]
    assert (attention.year, attention.date, attention.category) == (2017, "2017-06", "CL")
    assert attention.has_code and attention.url == "https://arxiv.org/abs/1706.03762"
    assert strings.authors == ["Jane Doe", "John Roe"]
    assert (strings.year, strings.date, strings.sources[0].line) == (2021, "2021-03", 2)
    assert xteam.title_is_display and xteam.title.endswith("(arXiv:2504.13203)")
    assert xteam.authors == ["Salman Rahman", "Liwei Jiang"]
    assert xteam.sources[0].line == 4  # line 3 is blank
    assert bibstyle.authors == ["Jane Doe", "John Roe"]
    assert bibstyle.affiliations == ["uw", "cmu"]
    assert bibstyle.paper_id == "bibtex-style-names"


def test_jsonl_bad_lines_are_reported_others_kept() -> None:
    path = INPUTS / "malformed.jsonl"
    result = parse_file(path)
    assert [(p.title, p.sources[0].line) for p in result.papers] == [
        ("Good One", 1),
        ("Good Two", 9),
    ]
    assert result.papers[1].authors == ["A. Author", "B. Author"]
    assert result.papers[1].authors_truncated
    messages = _messages(result)
    assert sorted(messages) == [2, 3, 4, 5, 6, 7, 8]
    assert messages[2].startswith("invalid JSON: Expecting ',' delimiter")
    assert messages[3].startswith("field 'year': Input should be a valid integer")
    assert messages[4] == "field 'abstract': Field required"
    assert "'title' or an 'arxiv_id'" in messages[5]
    assert messages[6] == "expected a JSON object, got list"
    assert messages[7].startswith("field 'date':")
    assert messages[8].startswith("field 'arxiv_id': not an arXiv id")
    assert str(result.issues[0]).startswith(f"{path}:2: invalid JSON")


# --- BibTeX --------------------------------------------------------------------------------


def test_bibtex_valid_entries() -> None:
    result = parse_file(INPUTS / "valid.bib")
    assert result.issues == []
    attention, accents, scholar = result.papers
    assert attention.sources[0].line == 2  # line 1 is a comment
    assert attention.authors == ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"]
    assert attention.authors_truncated  # "and others"
    assert (attention.arxiv_id, attention.year, attention.date) == ("1706.03762", 2017, "2017-06")
    assert attention.abstract == (
        "The dominant sequence transduction models are based on complex "
        "recurrent or convolutional neural networks."
    )
    assert accents.title == "Über LaTeX Accents in Titles"
    assert accents.authors == ["Jörg Müller", "María García"]
    assert accents.abstract == "We decode accents such as café and 50% signs."
    assert (accents.arxiv_id, accents.sources[0].line) == ("2001.00001", 13)
    assert scholar.arxiv_id == "2401.01234" and scholar.url == "https://arxiv.org/abs/2401.01234"


def test_bibtex_problems_are_reported_with_lines() -> None:
    result = parse_file(INPUTS / "malformed.bib")
    assert [(p.title, p.sources[0].line) for p in result.papers] == [
        ("Good Entry", 1),
        ("Second Good Entry", 17),
    ]
    messages = _messages(result)
    assert sorted(messages) == [8, 13, 23, 28]
    assert messages[8] == "entry 'noabstract' has no abstract field; skipped"
    assert "syntax error" in messages[13]
    assert "duplicate entry key 'good1'" in messages[23]
    assert "bad year 'sometime'" in messages[28]


# --- file-level errors, detection, folders -------------------------------------------------


def _error(path: Path) -> str:
    with pytest.raises(SourceFileError) as caught:
        parse_file(path)
    message = str(caught.value)
    assert str(path) in message
    # One error root for the retrieval layer (issue 10): a RetrievalError of kind "source".
    assert isinstance(caught.value, RetrievalError)
    assert caught.value.kind == "source"
    return message


def test_file_level_errors(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "missing.jsonl")
    assert "directory" in _error(tmp_path)
    (tmp_path / "nul.txt").write_bytes(b"abc\x00def")
    assert "binary" in _error(tmp_path / "nul.txt")
    (tmp_path / "latin1.bib").write_bytes("caf\xe9".encode("latin-1"))
    assert "not UTF-8" in _error(tmp_path / "latin1.bib")
    (tmp_path / "empty.jsonl").write_text("")
    assert "empty" in _error(tmp_path / "empty.jsonl")
    (tmp_path / "blank.txt").write_text("  \n\n\t\n")
    assert "only whitespace" in _error(tmp_path / "blank.txt")
    (tmp_path / "notes.txt").write_text("Just some notes.\nNothing to see here.\n")
    unknown = _error(tmp_path / "notes.txt")
    assert "unknown format" in unknown and "JSONL" in unknown and "BibTeX" in unknown


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.jsonl"
    path.write_text('{"title": "x", "abstract": "y"}\n')
    path.chmod(0)
    assert "permission denied" in _error(path)


def test_detect_format_by_suffix_and_content(tmp_path: Path) -> None:
    assert detect_format(_seed("002_"), _seed("002_").read_text()) == "profile"
    assert detect_format(_seed("004_"), _seed("004_").read_text()) == "arxiv-listing"
    jsonl = (INPUTS / "valid.jsonl").read_text()
    assert detect_format(tmp_path / "papers.ndjson", jsonl) == "jsonl"
    assert detect_format(tmp_path / "papers.txt", jsonl) == "jsonl"
    bib = (INPUTS / "valid.bib").read_text()
    assert detect_format(tmp_path / "refs", bib) == "bibtex"
    assert detect_format(tmp_path / "refs.BIBTEX", bib) == "bibtex"


def test_iter_source_files(tmp_path: Path) -> None:
    for name in ("b/x.bib", "a.jsonl", "b/c/y.txt", "z.ndjson", "notes.md", "paper.pdf"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".hidden.jsonl").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "a.txt").write_text("x")
    single = tmp_path / "paper.pdf"
    found = iter_source_files([tmp_path, single, tmp_path / "a.jsonl"])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["a.jsonl", "b/c/y.txt", "b/x.bib", "z.ndjson", "paper.pdf"]


def test_parsers_import_without_bibtexparser() -> None:
    code = "import sys, retrieval.parsers, retrieval.merge; print('bibtexparser' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    assert out.strip() == "False"


# --- nothing dropped silently (issue 11) ------------------------------------------------------


def test_bibtex_raw_percent_is_content(tmp_path: Path) -> None:
    path = tmp_path / "pct.bib"
    path.write_text(
        "@article{pct,\n"
        "  title = {Attacks 100% of the Time},\n"
        "  abstract = {Classifiers miss 40% of attacks. Limitations: we test English only,\n"
        "    and 5\\% of prompts %are ambiguous.},\n"
        '  note = "10% quoted",\n'
        "  year = 2024\n"
        "}\n"
        "% a real comment between entries\n"
    )
    result = parse_file(path)
    assert result.issues == []
    (paper,) = result.papers
    assert paper.title == "Attacks 100% of the Time"
    assert paper.abstract == (
        "Classifiers miss 40% of attacks. Limitations: we test English only, "
        "and 5% of prompts %are ambiguous."
    )


def test_bibtex_reports_what_it_cannot_keep(tmp_path: Path) -> None:
    path = tmp_path / "lost.bib"
    path.write_text(
        "@article{a,\n  title = {Fine},\n  month = {Foo},\n  year = 2024,\n"
        "  doi = {not-a-doi},\n  abstract = {Kept.}\n}\n"
        "\n"
        "article{lost,\n  title = {Lost},\n  abstract = {Lost abstract.}\n}\n"
    )
    result = parse_file(path)
    assert [p.title for p in result.papers] == ["Fine"]
    assert result.papers[0].date == "2024" and result.papers[0].doi is None
    messages = [str(i) for i in result.issues]
    assert messages == [
        f"{path}:1: entry 'a': month 'Foo' not understood; field ignored",
        f"{path}:1: entry 'a': 'doi' 'not-a-doi' is not a DOI; field ignored",
        f"{path}:9: text outside any entry ignored: 'article{{lost,'... (a missing '@'?)",
    ]


def test_bibtex_doi_is_kept_lower_case(tmp_path: Path) -> None:
    path = tmp_path / "doi.bib"
    path.write_text("@article{d,\n  title = {T},\n  doi = {10.1145/ABC.1},\n  abstract = {A.}\n}\n")
    (paper,) = parse_file(path).papers
    assert paper.doi == "10.1145/abc.1" and paper.url == "https://doi.org/10.1145/abc.1"


def test_jsonl_repeated_field_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "rep.jsonl"
    path.write_text(
        '{"title": "T", "abstract": "first", "abstract": "second"}\n'
        '{"title": "U", "abstract": "ok", "doi": "https://doi.org/10.1145/X"}\n'
        '{"title": "V", "abstract": "ok", "doi": "nope"}\n'
    )
    result = parse_file(path)
    assert [(p.title, p.doi) for p in result.papers] == [("U", "10.1145/x")]
    messages = _messages(result)
    assert messages[1] == "field 'abstract' appears twice; record skipped"
    assert messages[3].startswith("field 'doi': not a DOI")


def test_listing_reports_links_it_cannot_keep(tmp_path: Path) -> None:
    path = tmp_path / "links.txt"
    path.write_text(
        "We study links in listings.\n"
        "Code: https://github.com/a/b\n"
        "Code: https://github.com/a/c\n"
        "Project page: https://example.org/p\n"
        "12 pages, 3 figures\n"
        "arXiv:2401.01234\n"
    )
    result = parse_file(path)
    (paper,) = result.papers
    assert paper.abstract == "We study links in listings."
    assert paper.code_url == "https://github.com/a/b"
    assert [str(i) for i in result.issues] == [
        f"{path}:3: link line 'Code: https://github.com/a/c' not kept "
        "(only a first 'Code:' link is)",
        f"{path}:4: link line 'Project page: https://example.org/p' not kept "
        "(only a first 'Code:' link is)",
    ]


# --- streaming and the format table (issues 8, 10, 11) ----------------------------------------


def test_iter_parse_streams_and_fails_early(tmp_path: Path) -> None:
    from retrieval.parsers import iter_parse

    path = tmp_path / "many.jsonl"
    path.write_text(
        "".join(
            json.dumps({"title": f"Paper {n}", "abstract": f"Abstract {n}."}) + "\n"
            for n in range(50)
        )
    )
    records = iter_parse(path)
    assert not isinstance(records, list)
    first = next(records)
    assert isinstance(first, Paper) and first.title == "Paper 0"
    assert sum(1 for _ in records) == 49
    (tmp_path / "bad.jsonl").write_bytes(b'{"title": "x", "abstract": "caf\xe9"}\n')
    with pytest.raises(SourceFileError, match="not UTF-8"):
        iter_parse(tmp_path / "bad.jsonl")  # raised by the call, before any record


def _streaming_peak(path: Path, records: int) -> int:
    """Peak traced memory while counting the papers of a generated JSONL file."""
    import tracemalloc

    from retrieval.parsers import iter_parse

    abstract = "We measure memory while parsing records one at a time. " * 12
    with path.open("w") as out:
        for n in range(records):
            out.write(json.dumps({"title": f"Paper {n}", "abstract": abstract}) + "\n")
    tracemalloc.start()
    try:
        count = sum(1 for r in iter_parse(path) if isinstance(r, Paper))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == records
    return peak


def test_parsing_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Streaming: a file 3 times larger peaks at about the same traced memory."""
    small = _streaming_peak(tmp_path / "small.jsonl", 1000)
    big = _streaming_peak(tmp_path / "big.jsonl", 3000)
    big_size = (tmp_path / "big.jsonl").stat().st_size
    assert big_size > 2_000_000
    assert big < small * 1.5
    assert big < big_size / 2


def test_bibtex_batches_equal_one_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut into batches of a few lines, a BibTeX file gives what one parse gives."""
    import retrieval.parsers.bibtex as bib

    path = tmp_path / "batched.bib"
    path.write_text(
        "@string{acl = {Proc. of ACL}}\n"
        "@article{a,\n  title = {First},\n  journal = acl,\n  abstract = {One 10% two.}\n}\n"
        "@article{b,\n  title = {Second},\n  abstract = {Two.}\n}\n"
        "@article{a,\n  title = {Again},\n  abstract = {Dup.}\n}\n"
        "@article{c,\n  title = {Third},\n  note = acl,\n  abstract = {Three.}\n}\n"
        "@article{broken,\n  title = {Broken\n"
        "@article{d,\n  title = {Fourth},\n  abstract = {Four.}\n}\n"
    )
    whole = parse_file(path)
    monkeypatch.setattr(bib, "BATCH_LINES", 3)
    batched = parse_file(path)
    assert [p.model_dump() for p in batched.papers] == [p.model_dump() for p in whole.papers]
    assert [str(i) for i in batched.issues] == [str(i) for i in whole.issues]
    assert [(p.title, p.sources[0].line) for p in whole.papers] == [
        ("First", 2),
        ("Second", 7),
        ("Third", 15),
        ("Fourth", 22),
    ]
    assert whole.papers[0].abstract == "One 10% two."
    messages = _messages(batched)
    assert messages[11] == "duplicate entry key 'a' (first on line 2); skipped"
    assert "syntax error" in messages[20]


def test_the_format_table_drives_detection_and_folders(tmp_path: Path) -> None:
    from retrieval.parsers.registry import FOLDER_SUFFIXES, FORMATS, find_format

    names = [f.name for f in FORMATS]
    assert names == ["jsonl", "bibtex", "profile", "arxiv-listing"]
    assert {".jsonl", ".ndjson", ".bib", ".bibtex", ".txt"} == FOLDER_SUFFIXES
    for fmt in FORMATS:
        for suffix in fmt.suffixes:
            found = find_format(suffix.upper(), [])
            assert found is fmt
    (tmp_path / "notes.txt").write_text("Just notes.\n")
    message = _error(tmp_path / "notes.txt")
    for fmt in FORMATS:
        assert fmt.label in message
    assert find_format(".txt", ["", "@misc{x,"]) is FORMATS[1]
