"""Incremental merge: re-merge only the groups an ingest touched, one group at a time.

A merge group is a connected set of records under the relations a full `merge_records`
ever looks at: a shared exact key (arXiv id, DOI, real title, a possible paper id) or a
shared LSH band with compatible abstracts (rule 3). `merge_records` decides everything
inside such a group from the group's records and their order alone, so merging each group
on its own, in order, gives exactly the full merge's papers, ids, merges and conflicts
(tests/test_incremental_merge.py checks it after random edits).

After an ingest removed records (their groups are "touched") and added new ones (the
`dirty` table), `regroup` re-merges the touched groups, the new records and every stored
group a new record reaches. Other groups are not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from retrieval.merge import (
    MergeConflict,
    MergeEvent,
    abstract_words,
    compatible_words,
    merge_records,
)
from retrieval.models import Paper
from retrieval.sources import SourceStore

_WORDS_CACHE = 4096  # abstracts kept tokenized while grouping (bounded memory)


@dataclass
class Regrouped:
    """What re-merging the touched groups changed."""

    removed: set[str] = field(default_factory=set)  # paper ids that no longer exist
    upserted: int = 0  # papers of the re-merged groups
    merges: list[MergeEvent] = field(default_factory=list)
    conflicts: list[MergeConflict] = field(default_factory=list)


class _Abstracts:
    """Abstract words by record id, read from SQLite on demand (a small cache)."""

    def __init__(self, src: SourceStore) -> None:
        self.src = src
        self.cache: dict[int, tuple[list[str], frozenset[str]]] = {}

    def get(self, rid: int) -> tuple[list[str], frozenset[str]]:
        found = self.cache.get(rid)
        if found is None:
            row = self.src.db.execute(
                "SELECT json_extract(record, '$.abstract') FROM records WHERE rid=?", (rid,)
            ).fetchone()
            words = abstract_words(row[0] or "")
            if len(self.cache) >= _WORDS_CACHE:
                self.cache.clear()
            found = self.cache[rid] = (words, frozenset(words))
        return found

    def similar(self, i: int, j: int) -> bool:
        """Rule 3's test: both abstracts non-empty and compatible."""
        (a, sa), (b, sb) = self.get(i), self.get(j)
        if not a or not b:
            return False
        ok, score = compatible_words(a, b, sa, sb)
        return ok and score is not None


def _reached_groups(src: SourceStore, abstracts: _Abstracts) -> set[int]:
    """Stored groups a new (dirty) record shares a key or a similar-abstract band with."""
    db = src.db
    reached = {
        g
        for (g,) in db.execute(
            "SELECT DISTINCT r.grp FROM dirty d JOIN keys k ON k.rid = d.rid "
            "JOIN keys k2 ON k2.key = k.key JOIN records r ON r.rid = k2.rid "
            "WHERE r.grp IS NOT NULL"
        )
    }
    rows = db.execute(
        "SELECT DISTINCT d.rid, r.rid, r.grp FROM dirty d JOIN bands b ON b.rid = d.rid "
        "JOIN bands b2 ON b2.key = b.key JOIN records r ON r.rid = b2.rid "
        "WHERE r.grp IS NOT NULL"
    ).fetchall()
    for new, old, grp in rows:
        if grp not in reached and abstracts.similar(new, old):
            reached.add(grp)
    return reached


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent.get(root, root) != root:
            root = parent[root]
        while i != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _postings(src: SourceStore, table: str) -> Iterator[list[int]]:
    """Record ids sharing each key of `table` among the dirty records (shared keys only)."""
    current: object = None
    members: list[int] = []
    sql = f"SELECT t.key, t.rid FROM {table} t JOIN dirty d USING (rid) ORDER BY t.key, t.rid"
    for key, rid in src.db.execute(sql):
        if key != current:
            if len(members) > 1:
                yield members
            current, members = key, []
        members.append(rid)
    if len(members) > 1:
        yield members


def _assign_groups(src: SourceStore, abstracts: _Abstracts) -> None:
    """Connected groups of the dirty records; each group is named by its smallest record id."""
    uf = _UnionFind()
    for members in _postings(src, "keys"):
        for rid in members[1:]:
            uf.union(members[0], rid)
    for members in _postings(src, "bands"):
        for n, j in enumerate(members):
            for i in members[:n]:
                if uf.find(i) != uf.find(j) and abstracts.similar(i, j):
                    uf.union(i, j)
    rids = [rid for (rid,) in src.db.execute("SELECT rid FROM dirty")]
    src.db.executemany("UPDATE records SET grp=? WHERE rid=?", ((uf.find(r), r) for r in rids))


def _groups_in_order(src: SourceStore) -> Iterator[tuple[int, list[tuple[int, int]], list[Paper]]]:
    """(group, [(ord, seq)], records) of every dirty group, records in merge order."""
    rows = src.db.execute(
        "SELECT r.grp, r.ord, r.seq, r.record FROM dirty d JOIN records r ON r.rid = d.rid "
        "ORDER BY r.grp, r.ord, r.seq"
    )
    current: int | None = None
    order: list[tuple[int, int]] = []
    papers: list[Paper] = []
    for grp, ord_, seq, blob in rows:
        if grp != current:
            if current is not None:
                yield current, order, papers
            current, order, papers = grp, [], []
        order.append((ord_, seq))
        papers.append(Paper.model_validate_json(blob))
    if current is not None:
        yield current, order, papers


def regroup(src: SourceStore, touched: set[int]) -> Regrouped:
    """Re-merge the touched groups, the dirty records and the groups they reach."""
    db = src.db
    abstracts = _Abstracts(src)
    touched = touched | _reached_groups(src, abstracts)
    db.execute("CREATE TEMP TABLE IF NOT EXISTS touched(grp INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM touched")
    db.executemany("INSERT INTO touched(grp) VALUES (?)", ((g,) for g in touched))
    old_ids = {pid for (pid,) in db.execute("SELECT paper_id FROM papers JOIN touched USING (grp)")}
    db.execute("DELETE FROM papers WHERE grp IN (SELECT grp FROM touched)")
    db.execute("DELETE FROM groups WHERE grp IN (SELECT grp FROM touched)")
    db.execute("INSERT OR IGNORE INTO dirty(rid) SELECT rid FROM records JOIN touched USING (grp)")
    _assign_groups(src, abstracts)

    out = Regrouped()
    new_ids: set[str] = set()
    events: list[tuple[tuple[int, int], MergeEvent]] = []
    clashes: list[tuple[tuple[int, int], MergeConflict]] = []
    for grp, order, records in _groups_in_order(src):
        result = merge_records(records)
        first: dict[str, tuple[int, int]] = {}
        for position, record in enumerate(records):
            if record.sources:
                first.setdefault(record.sources[0].model_dump_json(), order[position])
        key_of: dict[str, tuple[int, int]] = {}
        rows = []
        for paper in result.papers:
            where = first.get(paper.sources[0].model_dump_json()) if paper.sources else None
            key = where or order[0]
            key_of[paper.paper_id] = key
            rows.append((paper.paper_id, grp, key[0], key[1], paper.model_dump_json()))
            new_ids.add(paper.paper_id)
        db.executemany(
            "INSERT OR REPLACE INTO papers(paper_id, grp, ord, seq, paper) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        merges = [m.model_dump_json() for m in result.merges]
        conflicts = [c.model_dump_json() for c in result.conflicts]
        if merges or conflicts:
            db.execute(
                "INSERT OR REPLACE INTO groups(grp, merges, conflicts) VALUES (?, ?, ?)",
                (grp, "[" + ",".join(merges) + "]", "[" + ",".join(conflicts) + "]"),
            )
        events.extend((key_of[m.paper_id], m) for m in result.merges)
        clashes.extend((key_of[c.paper_id], c) for c in result.conflicts)
        out.upserted += len(result.papers)
    out.merges = [m for _, m in sorted(events, key=lambda t: t[0])]
    out.conflicts = [c for _, c in sorted(clashes, key=lambda t: t[0])]
    out.removed = old_ids - new_ids
    return out


def dirty_papers(src: SourceStore) -> Iterator[Paper]:
    """The papers of the re-merged groups, in order (streamed): the delta's upserts."""
    sql = (
        "SELECT paper FROM papers WHERE grp IN (SELECT r.grp FROM dirty d JOIN records r "
        "ON r.rid = d.rid) ORDER BY ord, seq"
    )
    for (blob,) in src.db.execute(sql):
        yield Paper.model_validate_json(blob)


def all_merges(src: SourceStore) -> tuple[list[MergeEvent], list[MergeConflict]]:
    """Every stored group's merges and conflicts (for tests and full reports)."""
    merges: list[MergeEvent] = []
    conflicts: list[MergeConflict] = []
    for m_json, c_json in src.db.execute("SELECT merges, conflicts FROM groups ORDER BY grp"):
        merges.extend(MergeEvent.model_validate(m) for m in _loads(m_json))
        conflicts.extend(MergeConflict.model_validate(c) for c in _loads(c_json))
    return merges, conflicts


def _loads(blob: str | None) -> list[object]:
    import json

    return list(json.loads(blob)) if blob else []
