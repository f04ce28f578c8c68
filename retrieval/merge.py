"""Merge records of the same paper into one `Paper`, and say why (docs/formats.md, "Merging").

Two records are the same paper only when (checked in this order, joined with union-find):

1. they share an arXiv id or a DOI, and their abstracts are compatible (similarity
   >= ABSTRACT_THRESHOLD, or one abstract is empty);
2. they share a Unicode-normalized real title, and their abstracts are compatible;
3. nothing about them contradicts (no two different arXiv ids or DOIs, no two different real
   titles) and their abstracts are similar (>= ABSTRACT_THRESHOLD): typically a titled record
   without an id and an untitled listing record with one.

A shared key with incompatible abstracts, or near-identical abstracts under contradicting
keys, is a conflict: both records stay separate papers (the later one gets a suffixed id
when the ids would collide) and the conflict is reported with both `file:line` locations.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from difflib import SequenceMatcher

from pydantic import BaseModel, Field

from retrieval.merge_fields import merge_group
from retrieval.merge_keys import band_keys
from retrieval.models import Paper, SourceRef

__all__ = [
    "ABSTRACT_THRESHOLD",
    "MIN_WORD_JACCARD",
    "NEAR_IDENTICAL",
    "MergeConflict",
    "MergeEvent",
    "MergeResult",
    "abstract_similarity",
    "abstract_words",
    "compatible_words",
    "merge_group",
    "merge_papers",
    "merge_records",
    "title_key",
]

# Word-sequence similarity (difflib ratio over normalized words) at which two abstracts are
# versions of one paper. On the seeds the 8 true pairs score >= 0.563 (SafetyAnalyst, a
# rewrite), every other pair <= 0.237: a margin of 0.16 on both sides.
ABSTRACT_THRESHOLD = 0.40
# Abstracts this similar under contradicting ids or titles are reported as a conflict.
NEAR_IDENTICAL = 0.80
# Cheap pre-check before difflib: word-set Jaccard (seeds: true pairs >= 0.55, others <= 0.26).
MIN_WORD_JACCARD = 0.30
# Records sharing one key are compared with at most this many distinct versions (the first
# ones): a key shared by thousands of different papers ("Introduction") stays near-linear.
MAX_VERSIONS = 20

_ASCII_WORD = re.compile(r"[a-z0-9]+")
# Scripts written without spaces: each character is a word.
_NO_SPACE = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
)
_WORD = re.compile(rf"[{_NO_SPACE}]|(?:(?![{_NO_SPACE}])[^\W_])+")


def abstract_words(text: str) -> list[str]:
    """Word tokens that similarity compares: letters and digits of every script, case-folded."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def abstract_similarity(a: list[str], b: list[str]) -> float:
    """difflib's ratio (2 * matched words / total words) of two word sequences, in [0, 1]."""
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def title_key(title: str) -> str | None:
    """NFKC + casefold, letters/digits/marks of every script kept, the rest as single spaces.

    `Zorblax: Streaming Tokenizers` and `zorblax - streaming tokenizers!` share a key; two
    different Russian or Chinese titles do not (no script normalizes to an empty key).
    """
    text = unicodedata.normalize("NFKC", title).casefold()
    kept = "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in text)
    return " ".join(kept.split()) or None


class MergeEvent(BaseModel):
    """Records joined into one paper, and why."""

    paper_id: str
    sources: list[SourceRef]
    reason: str

    def __str__(self) -> str:
        where = " + ".join(_where(s) for s in self.sources)
        return f"{self.paper_id}: merged {where} ({self.reason})"


class MergeConflict(BaseModel):
    """Two records that share a key but not their content (or the reverse): kept apart."""

    source: SourceRef  # the later record
    other: SourceRef  # the earlier record it conflicts with
    key: str  # "arXiv id 2401.00001", "DOI 10.1/x", "title 'x'", "abstract"
    reason: str  # "same arXiv id 2401.00001, different abstracts"
    similarity: float  # the abstracts' word-sequence similarity
    paper_id: str  # the id the later record is kept under
    other_paper_id: str

    def __str__(self) -> str:
        return f"{_where(self.source)}: conflicts with {_where(self.other)} ({self.reason})"


class MergeResult(BaseModel):
    """Merged papers (input order of their first record), every merge and every conflict."""

    papers: list[Paper] = Field(default_factory=list)
    merges: list[MergeEvent] = Field(default_factory=list)
    conflicts: list[MergeConflict] = Field(default_factory=list)


def _where(source: SourceRef) -> str:
    return f"{source.file}:{source.line}"


def _first_source(paper: Paper) -> SourceRef:
    return paper.sources[0] if paper.sources else SourceRef(file=paper.paper_id, line=0)


class _Words:
    """Abstract words computed on demand (not kept for the whole corpus: bounded memory)."""

    def __init__(self, papers: list[Paper]) -> None:
        self.papers = papers
        self._cache: dict[int, list[str]] = {}
        self._sets: dict[int, frozenset[str]] = {}

    def __call__(self, i: int) -> list[str]:
        words = self._cache.get(i)
        if words is None:
            words = self._cache[i] = abstract_words(self.papers[i].abstract)
        return words

    def words_set(self, i: int) -> frozenset[str]:
        found = self._sets.get(i)
        if found is None:
            found = self._sets[i] = frozenset(self(i))
        return found

    def similarity(self, i: int, j: int) -> float | None:
        """Similarity of two records' abstracts; None when one of them is empty."""
        a, b = self(i), self(j)
        if not a or not b:
            return None
        return abstract_similarity(a, b)

    def compatible(self, i: int, j: int) -> tuple[bool, float | None]:
        """(compatible?, similarity): the word-set pre-check spares difflib most misses."""
        a, b = self(i), self(j)
        if not a or not b:
            return True, None
        return compatible_words(a, b, self.words_set(i), self.words_set(j))


def compatible_words(
    a: list[str], b: list[str], sa: frozenset[str], sb: frozenset[str]
) -> tuple[bool, float | None]:
    """(compatible?, similarity) of two non-empty word sequences and their word sets."""
    shared = len(sa & sb)
    if shared < MIN_WORD_JACCARD * (len(sa) + len(sb) - shared):
        return False, 0.0
    score = abstract_similarity(a, b)
    return score >= ABSTRACT_THRESHOLD, score


def candidate_pairs(words: _Words, n: int) -> list[tuple[int, int]]:
    """Pairs (i < j) worth comparing, in a stable order: they share an LSH band.

    A record's bands depend on its own abstract only (`retrieval.merge_keys.band_keys`), so
    an incremental ingest finds exactly the pairs a full merge compares.
    """
    postings: dict[int, list[int]] = defaultdict(list)
    pairs: set[tuple[int, int]] = set()
    if n < 2:  # most merge groups of an incremental ingest are one record
        return []
    for j in range(n):
        for key in band_keys(words(j)):
            found = postings[key]
            pairs.update((i, j) for i in found)
            found.append(j)
    return sorted(pairs)


def similar_abstract_pairs(words: _Words, n: int) -> list[tuple[float, int, int]]:
    """(similarity, i, j) for pairs with similarity >= ABSTRACT_THRESHOLD, most similar first."""
    found = []
    for i, j in candidate_pairs(words, n):
        ok, score = words.compatible(i, j)
        if ok and score is not None:
            found.append((score, i, j))
    return sorted(found, key=lambda t: (-t[0], t[1], t[2]))


class _Groups:
    """Union-find over record indexes that keeps each group's ids and titles consistent."""

    def __init__(self, papers: list[Paper], titles: list[str | None]) -> None:
        self.parent = list(range(len(papers)))
        self.arxiv = [p.arxiv_id for p in papers]
        self.doi = [p.doi for p in papers]
        self.titles = [{t} if t else set() for t in titles]
        # Records each group was found in conflict with: never joined, not even by a chain.
        self.apart: list[set[int]] = [set() for _ in papers]
        self.edges: list[tuple[int, int, str]] = []

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def clash(self, i: int, j: int, *, titles: bool) -> str | None:
        """Why the groups of i and j cannot be one paper, or None."""
        a, b = self.find(i), self.find(j)
        if self.arxiv[a] and self.arxiv[b] and self.arxiv[a] != self.arxiv[b]:
            return f"different arXiv ids {self.arxiv[a]} and {self.arxiv[b]}"
        if self.doi[a] and self.doi[b] and self.doi[a] != self.doi[b]:
            return f"different DOIs {self.doi[a]} and {self.doi[b]}"
        if titles and self.titles[a] and self.titles[b] and not self.titles[a] & self.titles[b]:
            return "different titles"
        small, other = (a, b) if len(self.apart[a]) <= len(self.apart[b]) else (b, a)
        if any(self.find(x) == other for x in self.apart[small]):
            return "kept apart by a conflict"
        return None

    def keep_apart(self, i: int, j: int) -> None:
        """Record a conflict: the groups of i and j never become one."""
        self.apart[self.find(i)].add(j)
        self.apart[self.find(j)].add(i)

    def union(self, i: int, j: int, reason: str) -> None:
        a, b = sorted((self.find(i), self.find(j)))
        self.parent[b] = a
        self.arxiv[a] = self.arxiv[a] or self.arxiv[b]
        self.doi[a] = self.doi[a] or self.doi[b]
        self.titles[a] |= self.titles[b]
        self.apart[a] |= self.apart[b]
        self.edges.append((i, j, reason))


def _similar(score: float | None) -> str:
    return "one abstract is empty" if score is None else f"abstract similarity {score:.2f}"


def _merge_by_key(
    groups: _Groups,
    words: _Words,
    papers: list[Paper],
    label: str,
    keys: list[str | None],
    conflicts: list[tuple[int, int, str, str]],
) -> None:
    """Rules 1 and 2: records sharing `keys` merge when their abstracts are compatible."""
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        if key:
            buckets[key].append(i)
    for key, members in buckets.items():
        reps = [members[0]]
        rep_roots = {groups.find(members[0])}  # kept current: no other union meanwhile
        shown = f'"{papers[members[0]].title}"' if label == "title" else key
        for j in members[1:]:
            if groups.find(j) in rep_roots:  # already one paper with a version seen
                continue
            clash = None
            for r in reps[:MAX_VERSIONS]:
                ok, score = words.compatible(r, j)
                if not ok:
                    continue
                clash = groups.clash(r, j, titles=False)
                if clash is None:
                    rep_roots.discard(groups.find(r))
                    groups.union(r, j, f"same {label} {shown}, {_similar(score)}")
                    rep_roots.add(groups.find(r))
                    break
            else:
                # Records told apart by their ids are two papers sharing a title: no conflict.
                if label != "title" or groups.clash(reps[0], j, titles=False) is None:
                    why = clash or "different abstracts"
                    conflicts.append((j, reps[0], f"{label} {key}", f"same {label} {shown}, {why}"))
                    groups.keep_apart(j, reps[0])
                reps.append(j)
                rep_roots.add(groups.find(j))


def merge_records(records: Iterable[Paper]) -> MergeResult:
    """Merge records of the same paper; report every merge and every conflict."""
    papers = list(records)
    n = len(papers)
    titles = [None if p.title_is_display else title_key(p.title) for p in papers]
    groups = _Groups(papers, titles)
    words = _Words(papers)
    conflicts: list[tuple[int, int, str, str]] = []
    _merge_by_key(groups, words, papers, "arXiv id", [p.arxiv_id for p in papers], conflicts)
    _merge_by_key(groups, words, papers, "DOI", [p.doi for p in papers], conflicts)
    _merge_by_key(groups, words, papers, "title", titles, conflicts)
    for score, i, j in similar_abstract_pairs(words, n):
        if groups.find(i) == groups.find(j):
            continue
        clash = groups.clash(i, j, titles=True)
        if clash is None:
            reason = f"similar abstracts (similarity {score:.2f}), no conflicting id or title"
            groups.union(i, j, reason)
        elif score >= NEAR_IDENTICAL:
            why = f"near-identical abstracts (similarity {score:.2f}), {clash}"
            conflicts.append((j, i, "abstract", why))
            groups.keep_apart(i, j)
    return _assemble(papers, groups, conflicts, words)


def _assemble(
    papers: list[Paper],
    groups: _Groups,
    conflicts: list[tuple[int, int, str, str]],
    words: _Words,
) -> MergeResult:
    """Merged papers with unique ids, the merge events and the conflicts."""
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(papers)):
        members[groups.find(i)].append(i)
    ordered = sorted(members.values(), key=lambda m: m[0])
    edges_by_root: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for edge in groups.edges:
        edges_by_root[groups.find(edge[0])].append(edge)
    result = MergeResult()
    used: set[str] = set()
    suffix: dict[str, int] = {}  # the next suffix to try per taken id
    final_id: dict[int, str] = {}
    for group in ordered:
        paper = merge_group([papers[i] for i in group])
        pid = paper.paper_id
        if pid in used:  # a kept-apart record whose id is taken: the later one is suffixed
            n = suffix.get(pid, 2)
            while f"{pid}~{n}" in used:
                n += 1
            suffix[pid] = n + 1
            paper = paper.model_copy(update={"paper_id": f"{pid}~{n}"})
        used.add(paper.paper_id)
        result.papers.append(paper)
        for i in group:
            final_id[i] = paper.paper_id
        if len(group) > 1:
            edges = edges_by_root[groups.find(group[0])]
            if len(edges) == 1:
                reason = edges[0][2]
            else:
                reason = "; ".join(
                    f"{_where(_first_source(papers[i]))} + {_where(_first_source(papers[j]))}: {r}"
                    for i, j, r in edges
                )
            sources = [_first_source(papers[i]) for i in group]
            result.merges.append(
                MergeEvent(paper_id=paper.paper_id, sources=sources, reason=reason)
            )
    said: set[frozenset[str]] = set()
    for later, earlier, key, reason in conflicts:
        pair = frozenset((final_id[later], final_id[earlier]))
        if pair in said:  # one conflict per pair of papers, the first reason found
            continue
        said.add(pair)
        score = words.similarity(earlier, later)
        result.conflicts.append(
            MergeConflict(
                source=_first_source(papers[later]),
                other=_first_source(papers[earlier]),
                key=key,
                reason=reason,
                similarity=round(score if score is not None else 1.0, 3),
                paper_id=final_id[later],
                other_paper_id=final_id[earlier],
            )
        )
    return result


def merge_papers(papers: list[Paper]) -> list[Paper]:
    """Merged papers only (see merge_records for the merges and conflicts)."""
    return merge_records(papers).papers
