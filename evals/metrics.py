"""Metric functions: retrieval, citations, support, facts, abstention and cost (docs/evals.md).

Everything here is pure and deterministic; the formulas are documented in docs/evals.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import lru_cache

from pydantic import BaseModel, Field

# A sentence is "supported" by a source when at least this share of its content words
# (stemmed, stopwords removed) occur in the source text. See docs/evals.md.
SUPPORT_THRESHOLD = 0.6
# Sentences with fewer content words than this are not claims (headings, "In short:").
MIN_CLAIM_WORDS = 3

_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_WORD = re.compile(r"[a-z0-9]+")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "al", "etc", "vs", "cf", "fig", "eq", "no", "dr", "mr", "ms", "approx", "resp"}
)
_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    may might must shall us s t one two paper papers work works study studies source sources
    according say says said per via et al
    """.split()  # noqa: SIM905
)


# --- retrieval ---------------------------------------------------------------------------


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """|gold ∩ top-k| / |gold| (0 when gold is empty)."""
    if not gold:
        return 0.0
    top = set(ranked[:k])
    return sum(1 for g in set(gold) if g in top) / len(set(gold))


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str]) -> float:
    """1 / rank of the first gold id in `ranked` (0 when none is there)."""
    wanted = set(gold)
    for rank, pid in enumerate(ranked, start=1):
        if pid in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float] | Collection[str], k: int) -> float:
    """nDCG@k with linear gains (binary when `gains` is a set): DCG / ideal DCG.

    DCG@k = sum over ranks i = 1..k of gain(doc_i) / log2(i + 1); the ideal ranking sorts the
    gold gains descending. Same definition as trec_eval / pytrec_eval used by BEIR.
    """
    gain_of: Mapping[str, float] = (
        gains if isinstance(gains, Mapping) else dict.fromkeys(gains, 1.0)
    )
    dcg = 0.0
    seen: set[str] = set()
    for i, pid in enumerate(ranked[:k], start=1):
        if pid in seen:
            continue
        seen.add(pid)
        dcg += gain_of.get(pid, 0.0) / math.log2(i + 1)
    ideal = sorted((g for g in gain_of.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


# --- citations and support -----------------------------------------------------------------


def parse_markers(text: str) -> list[int]:
    """Citation numbers in order of appearance: `[2]`, `[1, 3]` and `[1][3]`."""
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        numbers.extend(int(n) for n in re.split(r"[,;]", match.group(1)))
    return numbers


def citation_validity(valid: int, invalid: int) -> float | None:
    """valid / (valid + invalid); None when the answer has no marker at all."""
    total = valid + invalid
    return valid / total if total else None


def precision_recall(cited: Collection[str], gold: Collection[str]) -> tuple[float, float]:
    """Citation precision |C ∩ G| / |C| (0 when nothing is cited) and recall |C ∩ G| / |G|."""
    c, g = set(cited), set(gold)
    hit = len(c & g)
    precision = hit / len(c) if c else 0.0
    recall = hit / len(g) if g else 0.0
    return precision, recall


class Sentence(BaseModel):
    """An answer sentence: its text without markers and the markers attached to it."""

    text: str
    markers: list[int] = Field(default_factory=list)


def split_sentences(answer: str) -> list[Sentence]:
    """Split an answer into sentences and attach each citation marker to its sentence.

    Splits at line breaks and after `.`, `!` or `?` followed by white space, except after
    abbreviations such as "e.g." or "et al." and before a lower-case letter or a dash (as in
    "Is It Ok? — The paper ..."). A piece that is only markers (e.g. "[2]" after
    a full stop) is attached to the previous sentence.
    """
    pieces: list[str] = []
    for line in answer.splitlines():
        line = line.strip()
        if not line:
            continue
        start = 0
        for match in re.finditer(r"[.!?][\"')\]]*\s+", line):
            before = line[start : match.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            if last in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last):
                continue
            # "Title? — text" or "... vs. the": the sentence goes on.
            if re.match(r"[a-z—–:;,-]", line[match.end() : match.end() + 1]):
                continue
            pieces.append(line[start : match.end()].strip())
            start = match.end()
        if start < len(line):
            pieces.append(line[start:].strip())
    sentences: list[Sentence] = []
    for piece in pieces:
        markers = parse_markers(piece)
        text = _MARKER.sub(" ", piece)
        text = re.sub(r"\s+", " ", text).strip()
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if not re.search(r"[A-Za-z0-9]", text):
            if sentences:
                sentences[-1].markers.extend(markers)
            continue
        sentences.append(Sentence(text=text, markers=markers))
    return sentences


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=20000)
def _stem(word: str) -> str:
    stem: str = _stemmer().stemWord(word)  # type: ignore[attr-defined]
    return stem


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words without stopwords and without 1-letter tokens."""
    words = _WORD.findall(text.lower())
    return {_stem(w) for w in words if w not in _STOPWORDS and (len(w) > 1 or w.isdigit())}


def support_score(sentence: str, source_text: str) -> float:
    """Token recall: share of the sentence's content words that occur in the source text."""
    words = content_words(sentence)
    if not words:
        return 0.0
    return len(words & content_words(source_text)) / len(words)


class SentenceSupport(BaseModel):
    """How one claim sentence is supported by its cited sources."""

    text: str
    markers: list[int]
    score: float
    supported: bool


class SupportResult(BaseModel):
    """Support of one answer: claim sentences, and how many are supported."""

    sentences: list[SentenceSupport] = Field(default_factory=list)

    @property
    def n_claims(self) -> int:
        return len(self.sentences)

    @property
    def n_supported(self) -> int:
        return sum(1 for s in self.sentences if s.supported)

    @property
    def n_cited(self) -> int:
        return sum(1 for s in self.sentences if s.markers)

    @property
    def share(self) -> float | None:
        """Supported claim sentences / claim sentences (None when there is no claim)."""
        return self.n_supported / self.n_claims if self.n_claims else None


def answer_support(
    answer: str,
    source_texts: Mapping[int, str],
    *,
    threshold: float = SUPPORT_THRESHOLD,
) -> SupportResult:
    """ALCE-style support with the lexical score: a claim sentence is supported when one of
    the sources its markers name (`source_texts`: number -> text) scores >= `threshold`.

    A claim sentence has at least `MIN_CLAIM_WORDS` content words; a sentence without a valid
    marker is never supported.
    """
    result = SupportResult()
    for sentence in split_sentences(answer):
        if len(content_words(sentence.text)) < MIN_CLAIM_WORDS:
            continue
        cited = [m for m in dict.fromkeys(sentence.markers) if m in source_texts]
        score = max((support_score(sentence.text, source_texts[m]) for m in cited), default=0.0)
        result.sentences.append(
            SentenceSupport(
                text=sentence.text,
                markers=sentence.markers,
                score=round(score, 6),
                supported=bool(cited) and score >= threshold,
            )
        )
    return result


# --- facts ------------------------------------------------------------------------------


def _norm(text: str) -> str:
    text = text.replace("\\", "").replace("$", "")
    return re.sub(r"\s+", " ", text).strip().lower()


def fact_present(answer: str, fact: str) -> bool:
    """Case-insensitive substring match after collapsing white space (and `\\`, `$` of TeX)."""
    return _norm(fact) in _norm(answer)


def fact_recall(answer: str, facts: Sequence[str]) -> float | None:
    """Share of expected facts present in the answer (None when no fact is expected)."""
    if not facts:
        return None
    return sum(1 for f in facts if fact_present(answer, f)) / len(facts)


# --- aggregation ------------------------------------------------------------------------


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values (None when there is none)."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation, like numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
