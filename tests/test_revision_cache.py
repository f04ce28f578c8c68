"""Collection-wide values (names, term weights) are saved per content revision, so a new
process (a one-shot `ra ask`) reads them instead of rebuilding them from every record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.collection_terms import TermStats, term_stats_cache
from assistant.config import Settings
from assistant.names import NameTable, name_table_cache
from assistant.orchestrator import Assistant
from retrieval.index import PaperIndex


def test_saved_by_revision_read_back_rebuilt_when_damaged(tmp_path: Path) -> None:
    builds: list[str] = []

    def build() -> TermStats:
        builds.append("x")
        return TermStats.build(["moral reasoning", "safety moderation", "moral norms"])

    first = term_stats_cache().get("t1", build, folder=tmp_path, revision=lambda: "r1")
    again = term_stats_cache().get("t1", build, folder=tmp_path, revision=lambda: "r1")
    assert builds == ["x"] and again == first  # a new cache (process) reads the file
    (tmp_path / "term-stats-r1.json").write_text("{not json")
    assert term_stats_cache().get("t", build, folder=tmp_path, revision=lambda: "r1") == first
    assert builds == ["x", "x"]
    term_stats_cache().get("t", build, folder=tmp_path, revision=lambda: "r2")
    assert [p.name for p in tmp_path.iterdir()] == ["term-stats-r2.json"]  # old ones go
    table = NameTable.build([("p1", "PolyGuard: A Tool", "We present PolyGuard, a model.")])
    cache = name_table_cache()
    assert cache.get("t", lambda: table, folder=tmp_path, revision=lambda: "r2") == table
    assert name_table_cache().get("t", lambda: NameTable({}, {}), folder=tmp_path,
                                  revision=lambda: "r2") == table  # fmt: skip


def test_a_new_assistant_reads_no_record_for_names_or_weights(
    seed_settings: Settings, monkeypatch: Any
) -> None:
    Assistant(seed_settings, index=PaperIndex(seed_settings.retrieval())).ask("What is Delphi?")
    index = PaperIndex(seed_settings.retrieval())  # as in a new process
    calls: list[int] = []
    real = index.papers
    monkeypatch.setattr(index, "papers", lambda: calls.append(1) or real())
    answer = Assistant(seed_settings, index=index).ask("What is SafetyAnalyst?")
    assert answer.citations and calls == []
