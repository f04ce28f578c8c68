"""Incremental writes on a real embedded Chroma: a delta adds one segment and tombstones what
it replaces (the big segment is not rewritten), unchanged papers cost a lookup, and the
revision equals a clean build of the same content."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.config import load_settings
from retrieval.chunking import chunk_paper
from retrieval.index import PaperIndex
from retrieval.ingest import Ingestor, signature
from retrieval.ingest_report import IngestReport
from retrieval.ingest_write import PaperDelta, write_papers
from retrieval.models import Paper
from retrieval.state import SearchState, cache_base, revision_of


def _index(home: Path) -> PaperIndex:
    return PaperIndex(load_settings(home=home, chroma_url=None).retrieval())


def _new(i: int) -> Paper:
    return Paper(
        paper_id=f"zebra-{i}",
        title=f"Zebra stripes as adversarial camouflage number {i}",
        authors=["Ada Zebra"],
        year=2025,
        abstract="We study zebra stripe patterns that fool vision models and dialogue agents.",
    )


def _segments(index: PaperIndex) -> list[str]:
    manifest = index.manifest_file.read()
    assert manifest is not None and manifest.revision
    spec = json.loads(
        (cache_base(index.config) / "revisions" / f"{manifest.revision}.json").read_text()
    )
    return [s["name"] for s in spec["segments"]]


def test_a_delta_writes_one_segment_and_equals_a_clean_build(tmp_path: Path) -> None:
    index = _index(tmp_path / "a")
    index.ingest()
    seeds = index.papers()
    first = _segments(index)
    assert len(first) == 1

    changed = seeds[3].model_copy(update={"abstract": seeds[3].abstract + " Zebra addendum."})
    wanted = [p for p in seeds if p.paper_id != seeds[0].paper_id]
    wanted[2] = changed  # seeds[3] is at index 2 once seeds[0] is gone
    wanted += [_new(1), _new(2)]
    report = index.ingest_papers(wanted)
    assert (report.added, report.updated, report.removed) == (2, 1, 1)
    assert report.unchanged == len(wanted) - 3
    cfg = index.config
    assert report.chunks_written == 2 + len(
        chunk_paper(changed, cfg.chunk_tokens, cfg.chunk_overlap)
    )
    second = _segments(index)
    assert second[0] == first[0] and len(second) == 2  # the old segment is kept, not rewritten

    hits = index.search("zebra stripes camouflage", k=3)
    assert hits[0].paper_id.startswith("zebra-")
    assert index.get(seeds[0].paper_id) is None
    assert index.get(changed.paper_id) == changed
    assert [p.paper_id for p in index.papers()] == [p.paper_id for p in wanted]

    listing = [(cid, str(m["hash"])) for cid, _, m in index.store.iter_chunks(False)]
    manifest = index.manifest_file.read()
    assert manifest is not None and manifest.revision == revision_of(listing)
    clean = _index(tmp_path / "b")
    clean.ingest_papers(wanted)
    clean_manifest = clean.manifest_file.read()
    assert clean_manifest is not None and clean_manifest.revision == manifest.revision
    assert index.check().ok


def test_a_partial_delta_adds_and_removes_without_listing(tmp_path: Path) -> None:
    index = _index(tmp_path)
    index.ingest()
    before = index.papers()
    manifest = index.manifest_file.read()
    assert manifest is not None
    ingestor = Ingestor(index.config, index.store, index.manifest_file)
    journal = ingestor._begin(manifest, dict(manifest.files), signature(index.config, index.store))
    report = IngestReport()
    delta = PaperDelta(upserts=iter([_new(7), before[5]]), removed=[before[1].paper_id])
    write_papers(index.config, index.store, delta, report, journal, fresh=False,
                 listed=manifest.revision)  # fmt: skip
    ingestor._finish(journal)
    # Counts are the new revision's: every paper but the added one is unchanged.
    assert (report.added, report.removed, report.chunks_written) == (1, 1, 1)
    assert (report.papers, report.unchanged) == (len(before), len(before) - 1)
    reread = _index(tmp_path)
    ids = [p.paper_id for p in reread.papers()]
    assert len(ids) == len(before) and "zebra-7" in ids and before[1].paper_id not in ids
    assert reread.check().ok
    state = SearchState.open(cache_base(index.config), str(reread.status().revision))
    assert state is not None and state.n_papers == len(before)
