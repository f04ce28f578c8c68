"""The keys that decide which records a merge ever compares (docs/formats.md, "Merging").

Every key is a function of ONE record, so the source-record store can index them and an
incremental ingest finds, for a new record, every stored record a full merge would compare it
with:

- `record_keys`: its arXiv id, DOI and real title key (rules 1 and 2), and every paper id its
  merged paper could get (so two papers whose ids could collide are merged together, and the
  `~2` suffixes come out the same);
- `band_keys`: MinHash-LSH bands of its abstract's words (rule 3 candidates). Two records are
  rule-3 candidates when they share a band: near-duplicate abstracts almost always do, and
  unrelated ones almost never (a band is BAND_ROWS min-hashes that must all agree).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from retrieval.ids import normalize_arxiv_id, slugify
from retrieval.models import Paper

# 64 bands of 5 rows: P(candidate) = 1 - (1 - J**5)**64 for the Jaccard J of two abstracts'
# long-word sets. The seeds' true pairs have J >= 0.56 (P >= 0.97; all 8 share >= 5 bands);
# synthetic unrelated abstracts (median J 0.06) pair at a rate of 1e-4: near-linear.
BANDS = 64
BAND_ROWS = 5
MIN_WORD_LEN = 4  # short words ("the", "of", "and") are shared by unrelated abstracts

_rng = np.random.default_rng(20240607)
_MUL = _rng.integers(1, 2**63, size=BANDS * BAND_ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(
    1
)
_ADD = _rng.integers(0, 2**63, size=BANDS * BAND_ROWS, dtype=np.uint64)
_MIX = _rng.integers(1, 2**63, size=BAND_ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_BAND_SALT = _rng.integers(0, 2**63, size=BANDS, dtype=np.uint64)


@lru_cache(maxsize=1 << 16)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def band_words(words: list[str]) -> set[str]:
    """The words the bands are built from: long ones, and every word of non-Latin scripts."""
    return {w for w in words if len(w) >= MIN_WORD_LEN or not w.isascii()}


def band_keys(words: list[str]) -> list[int]:
    """The LSH band keys (signed 64-bit ints) of an abstract's words; none for no words."""
    kept = band_words(words)
    if not kept:
        return []
    hashes = np.fromiter((_word_hash(w) for w in kept), dtype=np.uint64, count=len(kept))
    with np.errstate(over="ignore"):
        mins = (_MUL[:, None] * hashes[None, :] + _ADD[:, None]).min(axis=1)
        bands = (mins.reshape(BANDS, BAND_ROWS) * _MIX[None, :]).sum(axis=1) ^ _BAND_SALT
    return [int(k) for k in bands.view(np.int64)]


def possible_ids(paper: Paper, title_key: str | None) -> list[str]:
    """Every id a merged paper holding this record could get (retrieval.ids.paper_id_for)."""
    ids = []
    if paper.arxiv_id:
        ids.append(normalize_arxiv_id(paper.arxiv_id))
    if title_key is not None:
        slug = slugify(paper.title)
        if slug:
            ids.append(slug)
    ids.append("sha-" + hashlib.sha256(paper.abstract.strip().encode()).hexdigest()[:12])
    return ids


def record_keys(paper: Paper, title_key: str | None) -> list[str]:
    """The record's exact-match keys: records sharing one are always merged together."""
    keys = []
    if paper.arxiv_id:
        keys.append(f"a {paper.arxiv_id}")
    if paper.doi:
        keys.append(f"d {paper.doi}")
    if title_key:
        keys.append(f"t {title_key}")
    keys.extend(f"i {pid}" for pid in possible_ids(paper, title_key))
    return keys
