"""Merge records of the same paper from several sources into one `Paper` (docs/formats.md).

Two records are the same paper when they share an arXiv id, a normalized real title, or
near-duplicate abstracts (word-sequence similarity >= ABSTRACT_THRESHOLD). Groups are
built with union-find, so chains merge; records with two different arXiv ids never merge.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from difflib import SequenceMatcher
from itertools import chain

from retrieval.ids import paper_id_for, slugify
from retrieval.models import Paper, SourceRef

# Word-sequence similarity (difflib ratio over normalized words) at which two abstracts are
# versions of one paper. On the seeds the 8 true pairs score >= 0.563, other pairs <= 0.238.
ABSTRACT_THRESHOLD = 0.40
# When both records carry different real titles, the abstracts must agree much more.
ABSTRACT_THRESHOLD_TITLES_DIFFER = 0.80
# Only pairs sharing rare words are compared (see candidate_pairs): merge stays near-linear.
RARE_WORD_MAX_DF = 20
SIGNATURE_SIZE = 24
# Cheap pre-check before difflib: word-set Jaccard (seeds: true pairs >= 0.55, others <= 0.25).
MIN_WORD_JACCARD = 0.30
MIN_SHARED_SIGNATURE = 3


_WORD = re.compile(r"[a-z0-9]+")


def abstract_words(text: str) -> list[str]:
    """Lower-case ASCII-folded word tokens: the text that similarity compares."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _WORD.findall(text.lower())


def abstract_similarity(a: list[str], b: list[str]) -> float:
    """difflib's ratio (2 * matched words / total words) of two word sequences, in [0, 1]."""
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


class _Groups:
    """Union-find over record indexes that refuses to join two different arXiv ids."""

    def __init__(self, papers: list[Paper]) -> None:
        self.parent = list(range(len(papers)))
        self.arxiv = [p.arxiv_id for p in papers]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> bool:
        """Join the groups of i and j (the smaller index becomes the root); False if refused."""
        a, b = sorted((self.find(i), self.find(j)))
        if a == b:
            return True
        if self.arxiv[a] and self.arxiv[b] and self.arxiv[a] != self.arxiv[b]:
            return False
        self.parent[b] = a
        self.arxiv[a] = self.arxiv[a] or self.arxiv[b]
        return True


def _title_key(paper: Paper) -> str | None:
    """The normalized real title, or None for a display title."""
    if paper.title_is_display or not paper.title.strip():
        return None
    return slugify(paper.title, max_len=10_000) or None


def candidate_pairs(
    words: list[list[str]], sets: list[set[str]] | None = None
) -> list[tuple[int, int]]:
    """Pairs (i < j) worth comparing, in a stable order: they share signature words.

    A record's signature is its SIGNATURE_SIZE rarest words among those used by 2 to
    RARE_WORD_MAX_DF abstracts (ties broken alphabetically). Two versions of one abstract
    share their most distinctive words, so their signatures overlap; unrelated abstracts
    seldom share MIN_SHARED_SIGNATURE words. The cost stays near-linear in the corpus size.
    """
    sets = sets if sets is not None else [set(w) for w in words]
    df = Counter(chain.from_iterable(sets))
    postings: dict[str, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int]] = []
    for j, mine in enumerate(sets):
        rare = sorted((df[w], w) for w in mine if 2 <= df[w] <= RARE_WORD_MAX_DF)
        signature = [w for _, w in rare[:SIGNATURE_SIZE]]
        shared = Counter(i for w in signature for i in postings[w])
        pairs.extend((i, j) for i, n in sorted(shared.items()) if n >= MIN_SHARED_SIGNATURE)
        for w in signature:
            postings[w].append(j)
    return pairs


def similar_abstract_pairs(papers: list[Paper]) -> list[tuple[float, int, int]]:
    """(similarity, i, j) for pairs whose abstracts are near-duplicates, most similar first."""
    words = [abstract_words(p.abstract) for p in papers]
    sets = [set(w) for w in words]
    titles = [_title_key(p) for p in papers]
    found = []
    for i, j in candidate_pairs(words, sets):
        differ = titles[i] and titles[j] and titles[i] != titles[j]
        need = ABSTRACT_THRESHOLD_TITLES_DIFFER if differ else ABSTRACT_THRESHOLD
        if len(sets[i] & sets[j]) < MIN_WORD_JACCARD * len(sets[i] | sets[j]):
            continue
        score = abstract_similarity(words[i], words[j])
        if score >= need:
            found.append((score, i, j))
    return sorted(found, key=lambda t: (-t[0], t[1], t[2]))


def group_records(papers: list[Paper]) -> list[list[int]]:
    """Indexes of records that are the same paper, groups ordered by first appearance."""
    groups = _Groups(papers)
    by_key: dict[str, int] = {}
    for kind, keys in (
        ("arxiv", [p.arxiv_id for p in papers]),
        ("title", [_title_key(p) for p in papers]),
    ):
        for i, key in enumerate(keys):
            if key:
                groups.union(by_key.setdefault(f"{kind}:{key}", i), i)
    for _, i, j in similar_abstract_pairs(papers):
        groups.union(i, j)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(papers)):
        members[groups.find(i)].append(i)
    return sorted(members.values(), key=lambda m: m[0])


def _date_precision(paper: Paper) -> int:
    """3 for a full date, 2 for a month, 1 for a year, 0 for none."""
    if paper.date:
        return min(3, paper.date.count("-") + 1)
    return 1 if paper.year else 0


def _unique(values: list[str]) -> list[str]:
    """Values in order, case-insensitive duplicates dropped."""
    seen: set[str] = set()
    out = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def merge_group(records: list[Paper]) -> Paper:
    """One paper from records of the same paper (input order), richest field wins."""
    from retrieval.parsers.arxiv_listing import display_title

    if len(records) == 1:
        return records[0]
    with_id = next((p for p in records if p.arxiv_id), None)
    arxiv_id = with_id.arxiv_id if with_id else None
    titled = [p for p in records if not p.title_is_display and p.title.strip()]
    # Abstract: a titled (curated) record's version if any, else any; the longest wins.
    pool = titled or records
    abstract = max(pool, key=lambda p: len(p.abstract)).abstract
    real_title = titled[0].title if titled else None
    authors_from = max(
        records, key=lambda p: (bool(p.authors), not p.authors_truncated, len(p.authors))
    )
    dated = max(records, key=_date_precision)
    sources: list[SourceRef] = [s for p in records for s in p.sources]
    return Paper(
        paper_id=paper_id_for(arxiv_id=arxiv_id, title=real_title, abstract=abstract),
        title=real_title or display_title(abstract, arxiv_id),
        title_is_display=real_title is None,
        authors=list(authors_from.authors),
        authors_truncated=authors_from.authors_truncated,
        affiliations=_unique([a for p in records for a in p.affiliations]),
        year=dated.year if dated.year else next((p.year for p in records if p.year), None),
        date=dated.date,
        category=next((p.category for p in records if p.category), None),
        arxiv_id=arxiv_id,
        url=(with_id.url if with_id and with_id.url else None)
        or next((p.url for p in records if p.url), None),
        code_url=next((p.code_url for p in records if p.code_url), None),
        has_code=any(p.has_code or p.code_url for p in records),
        abstract=abstract,
        sources=sources,
    )


def merge_papers(papers: list[Paper]) -> list[Paper]:
    """Merge records of the same paper; output in order of each paper's first record."""
    return [merge_group([papers[i] for i in group]) for group in group_records(papers)]
