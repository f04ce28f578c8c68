"""The index on a real embedded Chroma: ingest, idempotency, updates, search, filters."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assistant.config import load_settings
from retrieval.index import PaperIndex
from retrieval.store import EmbeddingMismatchError

XTEAMING = "2504.13203"


def _index(home: Path, **overrides: object) -> PaperIndex:
    config = load_settings(home=home).retrieval().model_copy(update=overrides)
    return PaperIndex(config)


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_seed_index_holds_51_papers(seed_index: PaperIndex) -> None:
    papers = seed_index.papers()
    assert len(papers) == 51
    assert len({p.paper_id for p in papers}) == 51
    xteaming = seed_index.get(XTEAMING)
    assert xteaming is not None
    assert xteaming.title.startswith("X-Teaming")
    assert {s.format for s in xteaming.sources} == {"profile", "arxiv-listing"}


def test_multi_turn_jailbreak_query_finds_xteaming(seed_index: PaperIndex) -> None:
    hits = seed_index.search("multi-turn jailbreak", k=5)
    assert XTEAMING in [h.paper_id for h in hits[:2]]
    assert len({h.paper_id for h in hits}) == len(hits), "one hit per paper"
    assert all(h.snippet for h in hits)


@pytest.mark.parametrize(
    ("query", "title_start"),
    [
        # Paraphrases that avoid the papers' title words.
        (
            "can language models induce rules from a few examples and then apply them",
            "Phenomenal Yet Puzzling",
        ),
        ("moderating unsafe content in seventeen different languages", "PolyGuard"),
        (
            "simulated environment where AI agents interact with people and tools to probe risks",
            "HAICOSYSTEM",
        ),
        ("a million synthetic social chats distilled from a large model", "SODA"),
        (
            "teaching a chatbot to respond to problematic utterances following social norms",
            "ProsocialDialog",
        ),
        ("unlearning toxic behaviour by conditioning on reward quantiles", "Quark"),
    ],
)
def test_paraphrased_query_ranks_its_paper_first_dense(
    seed_index: PaperIndex, query: str, title_start: str
) -> None:
    dense = seed_index.search(query, k=3, mode="dense")
    assert dense[0].title.startswith(title_start), [h.title for h in dense]
    hybrid = seed_index.search(query, k=3)
    assert hybrid[0].title.startswith(title_start), [h.title for h in hybrid]


def test_filters_year_and_author(seed_index: PaperIndex) -> None:
    hits = seed_index.search("safety", k=20, year_from=2024, year_to=2025)
    assert hits and all(h.year is not None and 2024 <= h.year <= 2025 for h in hits)
    by_author = seed_index.search("dialogue", k=20, author="hyunwoo kim")
    assert by_author
    assert all(any("hyunwoo kim" in a.lower() for a in h.authors) for h in by_author)
    assert seed_index.search("dialogue", author="Nobody Atall") == []


def test_lexical_mode_matches_exact_terms(seed_index: PaperIndex) -> None:
    hits = seed_index.search("PolyGuard", k=3, mode="lexical")
    assert hits[0].title.startswith("PolyGuard")
    assert hits[0].lexical_rank == 1 and hits[0].dense_rank is None


def test_resolve_references(seed_index: PaperIndex) -> None:
    by_arxiv = seed_index.resolve("2504.13203")
    by_title = seed_index.resolve("X-Teaming")
    assert [p.paper_id for p in by_arxiv] == [p.paper_id for p in by_title] == [XTEAMING]
    assert seed_index.resolve("arXiv:2504.13203v2")[0].paper_id == XTEAMING
    assert len(seed_index.resolve("jailbreak")) > 1  # ambiguous: candidates
    # A word prefix of one title is not that title: "safety" is in many titles.
    assert len(seed_index.resolve("safety")) > 1
    assert seed_index.resolve("safetyanalyst")[0].arxiv_id == "2410.16665"
    assert seed_index.resolve("zzzz qqqq") == []


def test_reingest_is_idempotent_and_fast(tmp_path: Path) -> None:
    index = _index(tmp_path)
    first = index.ingest()
    assert first.papers == 51 and first.added == 51 and first.ok
    before = sorted((p.paper_id, p.content_hash()) for p in index.papers())
    started = time.perf_counter()
    second = _index(tmp_path).ingest()
    assert second.nothing_changed and second.chunks_written == 0
    assert time.perf_counter() - started < 5  # generous: the real target is benchmarked
    # Forcing the slow path (no manifest) still writes nothing.
    (tmp_path / "manifest-papers.json").unlink()
    third = _index(tmp_path).ingest()
    assert third.chunks_written == 0 and third.unchanged == 51
    after = sorted((p.paper_id, p.content_hash()) for p in _index(tmp_path).papers())
    assert before == after


def test_changed_abstract_replaces_its_chunks(tmp_path: Path) -> None:
    long_abstract = " ".join(f"Sentence {i} talks about graph neural networks." for i in range(60))
    rows = [
        {"title": "Graph Things", "abstract": long_abstract, "year": 2023},
        {"title": "Other Paper", "abstract": "Bananas ripen faster near apples.", "year": 2022},
    ]
    source = _jsonl(tmp_path / "corpus.jsonl", rows)
    home = tmp_path / "home"
    index = _index(home)
    index.ingest([source])
    n_chunks_before = index.store.count()
    assert n_chunks_before > 2

    rows[0]["abstract"] = "Now a short abstract about quantum error correction."
    _jsonl(source, rows)
    report = _index(home).ingest([source])
    assert report.updated == 1 and report.unchanged == 1 and report.added == 0
    fresh = _index(home)
    assert fresh.store.count() == 2  # stale chunks of the long version are gone
    hits = fresh.search("quantum error correction", k=1)
    assert hits[0].title == "Graph Things"
    assert "graph neural" not in " ".join(hits[0].matched_chunks)


def test_ingest_adds_to_earlier_files_and_reports_bad_records(tmp_path: Path) -> None:
    good = _jsonl(tmp_path / "a.jsonl", [{"title": "Alpha Study", "abstract": "Alpha text."}])
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"title": "Beta Study", "abstract": "Beta text."}\n{not json}\n')
    index = _index(tmp_path / "home")
    index.ingest([good])
    report = index.ingest([bad])
    assert [str(i) for i in report.issues] and str(report.issues[0]).startswith(f"{bad}:2:")
    titles = {p.title for p in _index(tmp_path / "home").papers()}
    assert titles == {"Alpha Study", "Beta Study"}


def test_other_embedding_model_is_refused(tmp_path: Path) -> None:
    _index(tmp_path).ingest([_jsonl(tmp_path / "c.jsonl", [{"title": "T", "abstract": "A b c."}])])
    other = _index(tmp_path, embedding="openai")
    with pytest.raises(EmbeddingMismatchError, match="ra ingest --reindex"):
        other.store.count()
