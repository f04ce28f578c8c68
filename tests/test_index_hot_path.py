"""Issue 10, hot path: one `Assistant.ask` reads the manifest at most once, checks the
revision once and fetches no paper twice (search hits carry their `Paper`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.history import HistoryStore
from assistant.orchestrator import Assistant
from retrieval.index import PaperIndex
from retrieval.manifest import ManifestFile


@pytest.fixture()
def counters(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Spies on the real methods: manifest lookups and paper fetches by id."""
    seen: dict[str, Any] = {"lookups": 0, "gets": []}
    real_read = ManifestFile.read
    real_get = PaperIndex.get

    def read(self: ManifestFile) -> Any:
        seen["lookups"] += 1
        return real_read(self)

    def get(self: PaperIndex, paper_id: str) -> Any:
        seen["gets"].append(paper_id)
        return real_get(self, paper_id)

    monkeypatch.setattr(ManifestFile, "read", read)
    monkeypatch.setattr(PaperIndex, "get", get)
    return seen


@pytest.mark.parametrize(
    "question",
    ["Which papers study multi-turn jailbreaks?", "What does PolyGuard moderate?"],
)
def test_one_ask_reads_the_manifest_once_and_fetches_no_paper_twice(
    seed_settings: Settings, tmp_path: Path, counters: dict[str, Any], question: str
) -> None:
    index = PaperIndex(seed_settings.retrieval())  # a new process's index: nothing cached
    assistant = Assistant(
        seed_settings, index=index, history=HistoryStore(tmp_path / "history.sqlite")
    )
    answer = assistant.ask(question)
    assert answer.sources, "the question is answered from the index"
    assert index.manifest_file.reads == 1  # read from disk once
    assert counters["lookups"] == 1  # and one revision check
    assert len(counters["gets"]) == len(set(counters["gets"]))
    assert counters["gets"] == []  # the hits carried their papers

    # A second question on the same index: the unchanged manifest is not read again.
    assistant.ask("Which papers are about safety moderation?")
    assert index.manifest_file.reads == 1
    assert counters["lookups"] == 2


def test_search_hits_carry_the_full_paper(seed_index: PaperIndex) -> None:
    hits = seed_index.search("multi-turn jailbreak", k=3)
    assert hits and all(h.paper.paper_id == h.paper_id for h in hits)
    assert hits[0].paper == seed_index.get(hits[0].paper_id)
    assert "paper" not in hits[0].model_dump(mode="json")  # not in `ra search --json`
    bare = seed_index.search("multi-turn jailbreak", k=3, snippets=False)
    assert [h.paper_id for h in bare] == [h.paper_id for h in hits]
    assert all(h.snippet == "" for h in bare) and all(h.snippet for h in hits)
