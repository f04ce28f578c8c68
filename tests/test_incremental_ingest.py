"""An ingest parses only new or changed files and hands the writer only what changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import retrieval.ingest
import retrieval.parsers
from assistant.config import load_settings
from retrieval.index import PaperIndex
from retrieval.ingest_write import PaperDelta


def _index(home: Path) -> PaperIndex:
    return PaperIndex(load_settings(home=home).retrieval())


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_unchanged_files_are_not_read_and_the_delta_holds_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _jsonl(tmp_path / "a.jsonl", [{"title": "Alpha", "abstract": "Apples and pears."}])
    b = _jsonl(tmp_path / "b.jsonl", [{"title": "Beta", "abstract": "Boats on a lake."}])
    home = tmp_path / "home"
    _index(home).ingest([a, b])

    deltas: list[tuple[list[str], list[str], bool]] = []
    real_write = retrieval.ingest.write_papers

    def spy(config, store, delta: PaperDelta, *args, **kwargs):  # type: ignore[no-untyped-def]
        upserts = list(delta.upserts)
        deltas.append(([p.paper_id for p in upserts], sorted(delta.removed), delta.replace_all))
        delta.upserts = upserts
        return real_write(config, store, delta, *args, **kwargs)

    monkeypatch.setattr(retrieval.ingest, "write_papers", spy)
    parsed: list[str] = []
    real_parse = retrieval.parsers.iter_parse

    def counting(path: Path, **kw):  # type: ignore[no-untyped-def]
        parsed.append(path.name)
        return real_parse(path, **kw)

    monkeypatch.setattr(retrieval.parsers, "iter_parse", counting)

    # Same size and mtime: a stat only, no hash, no parse, nothing written.
    monkeypatch.setattr(retrieval.ingest, "file_sha", lambda p: pytest.fail(f"hashed {p}"))
    report = _index(home).ingest([a, b])
    assert report.nothing_changed and not parsed and not deltas
    monkeypatch.undo()
    monkeypatch.setattr(retrieval.ingest, "write_papers", spy)
    monkeypatch.setattr(retrieval.parsers, "iter_parse", counting)

    # Touched but not changed: hashed, not parsed.
    os.utime(a, ns=(1, 1))
    report = _index(home).ingest([a, b])
    assert report.nothing_changed and not parsed

    # b changes: b alone is parsed; the delta has Beta's new version and drops its old id.
    _jsonl(b, [{"title": "Beta Two", "abstract": "Boats on a lake, again."}])
    c = _jsonl(tmp_path / "c.jsonl", [{"title": "Gamma", "abstract": "Cats in hats."}])
    report = _index(home).ingest([c])
    assert sorted(set(parsed)) == ["b.jsonl", "c.jsonl"]
    assert deltas[-1] == (["beta-two", "gamma"], ["beta"], False)
    assert report.added == 2 and report.removed == 1 and report.unchanged == 1
    assert [p.paper_id for p in _index(home).papers()] == ["alpha", "beta-two", "gamma"]
