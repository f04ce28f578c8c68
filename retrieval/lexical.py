"""Lexical retrieval: the tokenizer (bm25s's, English stop words, Snowball stems) and BM25
scoring over term-major postings, equal to `bm25s.BM25()` (method "lucene", k1=1.5, b=0.75)
built over the same documents.

bm25s's formula (`bm25s/scoring.py`): idf = ln(1 + (N - df + 0.5) / (df + 0.5)) and
tfc = tf / (tf + k1 * (1 - b + b * dl / avgdl)), where dl counts a document's tokens after
stop-word removal (repeats included) and avgdl is the mean dl over the corpus; a query term
repeated in the query is counted as often as it appears.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

K1 = 1.5
B = 0.75
# bm25s's default token pattern (scikit-learn's CountVectorizer).
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """bm25s's English stop words, read from its `stopwords` module without importing the
    `bm25s` package (whose import pulls tqdm and asyncio: ~60 ms of a one-shot search)."""
    spec = importlib.util.find_spec("bm25s")  # finds the package without running it
    if spec is None or spec.origin is None:
        raise ImportError("bm25s is not installed")
    path = Path(spec.origin).with_name("stopwords.py")
    module_spec = importlib.util.spec_from_file_location("_ra_bm25s_stopwords", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot read {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(module.STOPWORDS_EN)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens for each text: exactly
    `bm25s.tokenize(texts, stopwords="en", stemmer=..., return_ids=False)` (tested), done
    here so that a query does not import bm25s."""
    stop = stopwords()
    words = [[t for t in TOKEN_PATTERN.findall(text.lower()) if t not in stop] for text in texts]
    unique = list(dict.fromkeys(chain.from_iterable(words)))
    stems = dict(zip(unique, _stemmer().stemWords(unique), strict=True))
    return [[stems[t] for t in doc] for doc in words]


def postings(texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Term-major (CSC) postings of `texts`: (terms, indptr, doc ids, term freqs, doc lengths).

    Postings of term i are `docs[indptr[i]:indptr[i+1]]` (ascending) with their `tfs`.
    """
    import bm25s

    n = len(texts)
    if n == 0:
        empty = np.zeros(0, dtype=np.int32)
        return [], np.zeros(1, dtype=np.int64), empty, np.zeros(0, np.float32), empty
    tok = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=True, show_progress=False
    )
    ids: list[list[int]] = tok.ids
    lengths = np.fromiter((len(d) for d in ids), dtype=np.int64, count=n)
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    # Only terms that occur (the stemmer may map several words to one id: ids are dense).
    used = np.unique(flat)
    by_id = {i: t for t, i in tok.vocab.items()}
    terms = [by_id[int(i)] for i in used]
    term_index = np.searchsorted(used, flat)
    keys, tf = np.unique(term_index * n + doc, return_counts=True)
    term_of = keys // n
    indptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of, minlength=len(terms)), out=indptr[1:])
    return (
        terms,
        indptr,
        (keys % n).astype(np.int32),
        tf.astype(np.float32),
        lengths.astype(np.int32),
    )


def idf(df: np.ndarray | float, n_docs: int) -> np.ndarray:
    """bm25s's "lucene" idf."""
    return np.log1p((n_docs - np.asarray(df, dtype=np.float64) + 0.5) / (np.asarray(df) + 0.5))


def length_norms(dl: np.ndarray, avgdl: float) -> np.ndarray:
    """The per-document part of BM25's term-frequency denominator, K1 * (1 - B + B * dl /
    avgdl): a term's score in a document is tf / (tf + norm)."""
    return K1 * (1.0 - B + B * np.asarray(dl).astype(np.float64) / avgdl)
