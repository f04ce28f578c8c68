"""Term weights and paper names over the whole collection, kept per immutable segment: they
equal the values built from every live record (after additions, changes and deletions), an
ingest computes only its new segments, and a new process reads no record for them."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from assistant.collection_stats import stats_path
from assistant.config import Settings, load_settings
from assistant.names import NameTable
from assistant.orchestrator import Assistant
from retrieval.index import PaperIndex
from tests.home_copy import copy_home
from tests.reference_stats import TermStats, name_rows

QUESTIONS = [
    "How well do language models reason about morality?",
    "What safety moderation tools have been proposed?",
    "How does PolyGuard differ from WildGuard?",
    "What do quokka lexicons measure?",
    "",
]


def _rows(changed: bool) -> list[dict[str, Any]]:
    rows = [
        {"title": "QuokkaLex: A Lexicon of Marsupial Words", "abstract":
         "We introduce QuokkaLex, a lexicon of 4,000 marsupial words for language models."},
        {"title": "Safety moderation for quokka chatbots", "abstract":
         "We present MarsuGuard, a safety moderation model that flags harmful prompts."},
        {"title": "Reasoning about morality in wombat stories", "abstract":
         "Language models reason about morality in 1,200 wombat stories."},
    ]  # fmt: skip
    if changed:
        rows[1]["abstract"] = "We present MarsuGuard 2, a moderation model for 9 languages."
        del rows[2]
    return rows


@pytest.fixture()
def settings(seed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RA_MODEL", "RA_CHROMA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RA_CONFIG", os.devnull)
    return load_settings(home=copy_home(seed_home, tmp_path / "home"), model="offline")


def _ingest(settings: Settings, path: Path, changed: bool) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows(changed)))
    Assistant(settings).ingest([path])


def _assert_equal_to_every_record(settings: Settings) -> None:
    index = PaperIndex(settings.retrieval())
    papers = index.papers()
    stats = Assistant(settings, index=index).collection_stats()
    reference = TermStats.build(f"{p.title} {p.abstract}" for p in papers)
    assert stats.n == reference.n == len(papers)
    for question in QUESTIONS:
        assert stats.weights(question) == reference.weights(question), question
    names = NameTable.build(name_rows(index))
    table = stats.names()
    for mine, theirs in ((table.by_title, names.by_title), (table.by_intro, names.by_intro)):
        assert set(mine) == set(theirs)
        for k, ids in theirs.items():
            assert sorted(mine.get(k, ())) == sorted(ids), k
        assert mine.get("nosuchname", ()) == ()


def test_values_equal_building_from_every_live_record(settings: Settings, tmp_path: Path) -> None:
    extra = tmp_path / "extra.jsonl"
    _ingest(settings, extra, changed=False)
    _assert_equal_to_every_record(settings)
    _ingest(settings, extra, changed=True)  # one paper changed, one removed: tombstones
    index = PaperIndex(settings.retrieval())
    assert any(seg.dead for seg in index.segment_layout())
    _assert_equal_to_every_record(settings)
    table = Assistant(settings).collection_stats().names()
    assert table.lookup("MarsuGuard") is not None and table.lookup("wombat") is None
    fresh = PaperIndex(settings.retrieval())  # a new process: the deleted papers' counts
    read: list[int] = []  # were saved by the ingest, not read again
    real = fresh.segment_papers
    fresh.segment_papers = lambda *a: read.append(1) or real(*a)  # type: ignore[method-assign]
    assert Assistant(settings, index=fresh).collection_stats().weights("quokka") and read == []


def test_an_ingest_computes_only_its_new_segments(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Assistant(settings).collection_stats()  # the seeds' segment, once
    read: list[str] = []
    real = PaperIndex.segment_papers

    def spy(self: PaperIndex, name: str, positions: Any = None) -> Any:
        for pos, paper in real(self, name, positions):
            read.append(paper.paper_id)
            yield pos, paper

    monkeypatch.setattr(PaperIndex, "segment_papers", spy)
    _ingest(settings, tmp_path / "extra.jsonl", changed=False)
    assert len(read) == 3  # the new segment's papers, not the 51 seeds again
    assert stats_path(settings.home / "cache" / "assistant" / "papers").is_file()


def test_a_new_process_reads_no_record_and_a_damaged_file_is_rebuilt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Assistant(settings).ask("What is SafetyAnalyst?")
    index = PaperIndex(settings.retrieval())  # as in a new process
    calls: list[str] = []
    real_papers, real_segment = index.papers, index.segment_papers
    monkeypatch.setattr(index, "papers", lambda: calls.append("papers") or real_papers())
    monkeypatch.setattr(
        index, "segment_papers", lambda *a: calls.append("segment") or real_segment(*a)
    )
    again = Assistant(settings, index=index).ask("What is SafetyAnalyst?")
    assert again.citations and calls == []
    assert again.answer == first.answer
    path = stats_path(settings.home / "cache" / "assistant" / "papers")
    path.write_bytes(b"not a database" * 100)
    rebuilt = Assistant(settings, index=PaperIndex(settings.retrieval())).ask(
        "What is SafetyAnalyst?"
    )
    assert rebuilt.answer == first.answer
    with contextlib.closing(sqlite3.connect(path)) as conn:  # a database again, filled
        assert conn.execute("SELECT count(*) FROM segments").fetchone()[0] >= 1


def test_an_ingest_during_a_turn_leaves_every_reader_right(
    settings: Settings, tmp_path: Path
) -> None:
    reader = Assistant(settings)
    assert reader.collection_stats().n == 51
    with reader.index.pinned():  # a turn in progress while another process ingests
        _ingest(settings, tmp_path / "extra.jsonl", changed=False)
        during = reader.collection_stats()
        assert during.n == 51 and during.names().lookup("QuokkaLex") is None
    after = reader.collection_stats()  # the next turn serves the new revision
    assert after.n == 54 and after.names().lookup("QuokkaLex") is not None
    fresh = Assistant(settings).collection_stats()  # and the file was not pruned by the reader
    assert fresh.n == 54 and fresh.names().lookup("QuokkaLex") is not None
