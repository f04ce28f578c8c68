"""The incremental merge equals a full merge of the same files, after every random edit.

Random sequences of add / change / remove operations on small JSONL and BibTeX files (with
deliberate duplicates and conflicts, and the seeds) go through the source-record store and
`regroup`, as an ingest does; after each step the stored papers, merges and conflicts are
compared with `merge_records` over every file's records in the store's file order.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from retrieval.merge import merge_records
from retrieval.models import Paper
from retrieval.parsers import iter_parse
from retrieval.regroup import all_merges, dirty_papers, regroup
from retrieval.resources import seed_files
from retrieval.sources import FileState, SourceStore, file_sha

WORDS = [
    "tokenizer",
    "streaming",
    "alignment",
    "reward",
    "safety",
    "moderation",
    "multilingual",
    "jailbreak",
    "covariance",
    "estimation",
    "stochastic",
    "approximation",
    "debate",
    "assessment",
    "neutrality",
    "benchmark",
    "retrieval",
    "embedding",
    "transformer",
    "attention",
    "sparse",
    "quantized",
    "adapters",
    "curriculum",
    "distillation",
    "preference",
    "optimization",
    "verifier",
    "calibration",
]


def _abstract(rng: random.Random, topic: int) -> str:
    local = random.Random(topic)  # a topic's abstract is the same words, then edited
    words = [local.choice(WORDS) for _ in range(40)]
    for _ in range(rng.randint(0, 6)):  # a rewritten version: a few words changed
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words) + "."


def _record(rng: random.Random) -> dict[str, object]:
    topic = rng.randrange(12)
    rec: dict[str, object] = {"abstract": _abstract(rng, topic)}
    roll = rng.random()
    if roll < 0.4:  # an id shared by versions, sometimes by a different topic (conflict)
        rec["arxiv_id"] = f"2401.{10000 + (topic if rng.random() < 0.8 else rng.randrange(12))}"
    if rng.random() < 0.6:
        rec["title"] = f"Paper {topic if rng.random() < 0.8 else rng.randrange(12)}"
    if rng.random() < 0.15:
        rec["doi"] = f"10.1000/{topic % 5}"
    if rng.random() < 0.1:
        rec["abstract"] = ""
    return rec


def _jsonl(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 6)):
        rec = _record(rng)
        rec.setdefault("title", "")
        if not rec["title"] and not rec.get("arxiv_id"):
            rec["title"] = f"Untitled {rng.randrange(3)}"
        lines.append(json.dumps(rec))
    return "\n".join(lines) + "\n"


def _bibtex(rng: random.Random) -> str:
    entries = []
    for n in range(rng.randint(1, 4)):
        rec = _record(rng)
        fields = [f"  title = {{{rec.get('title') or f'Bib {rng.randrange(4)}'}}}"]
        fields.append(f"  abstract = {{{rec['abstract'] or 'short'}}}")
        if rec.get("arxiv_id"):
            fields.append(f"  eprint = {{{rec['arxiv_id']}}}")
        if rec.get("doi"):
            fields.append(f"  doi = {{{rec['doi']}}}")
        fields.append("  year = {2024}")
        entries.append(f"@article{{k{n},\n" + ",\n".join(fields) + "\n}\n")
    return "\n".join(entries)


class Library:
    """Files on disk plus the source store, updated the way an ingest updates it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.src = SourceStore(tmp / "sources.sqlite3")
        self.paths: list[Path] = []

    def ingest(self, changed: list[Path], removed: list[Path]) -> tuple[list[Paper], set[str]]:
        src = self.src
        src.begin()
        src.db.execute("DELETE FROM dirty")
        touched: set[int] = set()
        for path in removed:
            touched |= src.drop_file_records(str(path))
            src.db.execute("DELETE FROM files WHERE path=?", (str(path),))
        known = src.files()
        for path in changed:
            old = known.get(str(path))
            ord_ = old.ord if old else src.next_ord()
            touched |= src.drop_file_records(str(path))
            papers = (r for r in iter_parse(path) if isinstance(r, Paper))
            src.add_records(str(path), ord_, papers)
            st = path.stat()
            src.set_file(FileState(path=str(path), ord=ord_, size=st.st_size,
                                   mtime_ns=st.st_mtime_ns, sha=file_sha(path)))  # fmt: skip
        out = regroup(src, touched)
        upserts = list(dirty_papers(src))
        src.commit()
        return upserts, out.removed

    def check(self) -> None:
        full = merge_records(list(self.src.records_in_order()))
        stored = list(self.src.papers())
        assert [p.model_dump() for p in stored] == [p.model_dump() for p in full.papers]
        merges, conflicts = all_merges(self.src)
        key = json.dumps
        assert sorted(key(m.model_dump()) for m in merges) == sorted(
            key(m.model_dump()) for m in full.merges
        )
        assert sorted(key(c.model_dump()) for c in conflicts) == sorted(
            key(c.model_dump()) for c in full.conflicts
        )


@pytest.mark.parametrize("seed", range(12))
def test_random_edits_match_a_full_merge(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lib = Library(tmp_path)
    counter = 0
    before: set[str] = set()
    for step in range(14):
        op = rng.random()
        changed: list[Path] = []
        removed: list[Path] = []
        if op < 0.45 or not lib.paths:  # add a file
            counter += 1
            if step == 0 and seed % 3 == 0:
                path = tmp_path / f"seed{counter}.txt"
                path.write_bytes(rng.choice(seed_files()).read_bytes())
            elif rng.random() < 0.6:
                path = tmp_path / f"f{counter}.jsonl"
                path.write_text(_jsonl(rng))
            else:
                path = tmp_path / f"f{counter}.bib"
                path.write_text(_bibtex(rng))
            lib.paths.append(path)
            changed.append(path)
        elif op < 0.8:  # change a file
            path = rng.choice(lib.paths)
            path.write_text(_jsonl(rng) if path.suffix == ".jsonl" else _bibtex(rng))
            changed.append(path)
        else:  # remove a file
            path = lib.paths.pop(rng.randrange(len(lib.paths)))
            removed.append(path)
        upserts, gone = lib.ingest(changed, removed)
        lib.check()
        now = {p.paper_id for p in lib.src.papers()}
        # The delta turns the previous collection into the new one.
        assert now == (before - gone) | {p.paper_id for p in upserts}
        assert not gone & now
        before = now


def test_an_unrelated_file_leaves_other_groups_unread(tmp_path: Path) -> None:
    lib = Library(tmp_path)
    seeds = [tmp_path / f"s{n}.txt" for n in range(2)]
    for path, original in zip(seeds, seed_files(), strict=True):
        path.write_bytes(original.read_bytes())
    lib.ingest(seeds, [])
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"title": "Zorblax", "abstract": "A new thing entirely."}) + "\n")
    upserts, gone = lib.ingest([extra], [])
    assert [p.title for p in upserts] == ["Zorblax"] and not gone
    lib.check()
    # A second version of a seed paper re-merges that paper's group only.
    seed_paper = next(p for p in lib.src.papers() if p.arxiv_id == "2504.13203")
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps({"arxiv_id": "2504.13203", "title": seed_paper.title,
                                 "abstract": seed_paper.abstract}) + "\n")  # fmt: skip
    upserts, gone = lib.ingest([again], [])
    assert [p.paper_id for p in upserts] == ["2504.13203"] and not gone
    assert len(next(p for p in upserts).sources) == 3
    lib.check()
