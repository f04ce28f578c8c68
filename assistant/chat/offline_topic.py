"""Does a paper address the question's topic, or only share a word with it?

Two signals, both weighted by how informative each word is in the whole collection (IDF
over every indexed paper, `ModelRequest.term_weights`): the share of the question's weight
a paper has, and the share of the question's phrases ("safety moderation", "moral
reasoning": content words next to each other in the question) it has as phrases, the words
close together in one sentence or its title, in any order. A paper that has "safety" in one
sentence and "tools" in another covers the words but not the concept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise

from assistant.chat.offline_prompt import ParsedSource
from assistant.text import GENERIC, STOPWORDS, terms

PHRASE_WINDOW = 3  # at most this many terms apart (stopwords are not terms) in one sentence
PHRASE_SHARE = 0.5  # weight of the phrase share in the topic score (the rest: word share)
# Words that end a phrase of the question: clauses and alternatives are separate concepts.
_BREAK = re.compile(
    r"[,;:?!()\"“”]|\b(or|and|but|which|that|where|whether|when|while|who|how|what|why|"
    r"versus|vs|than|instead|rather|compared|between)\b",
    re.IGNORECASE,
)


def question_phrases(query: str) -> list[tuple[set[str], set[str]]]:
    """Pairs of neighbouring content words of the question (terms of each), within a clause.

    Stopwords between them are allowed ("reason about morality"); a comma, "or", "and" or a
    clause word ends the phrase.
    """
    pairs: list[tuple[set[str], set[str]]] = []
    for segment in _BREAK.split(query):
        if not segment or _BREAK.fullmatch(segment):
            continue
        content = [
            set(terms(w, drop_generic=True))
            for w in re.findall(r"[\w'’*-]+", segment)
            if w.lower() not in STOPWORDS and w.lower() not in GENERIC
        ]
        content = [c for c in content if c]
        pairs.extend((a, b) for a, b in pairwise(content) if not a & b)
    return pairs


def _near(seq: list[str], left: set[str], right: set[str]) -> bool:
    """True when a term of `left` and one of `right` are at most PHRASE_WINDOW apart."""
    at_left = [i for i, t in enumerate(seq) if t in left]
    if not at_left:
        return False
    at_right = [i for i, t in enumerate(seq) if t in right]
    return any(abs(i - j) <= PHRASE_WINDOW for i in at_left for j in at_right)


def has_phrase(source: ParsedSource, left: set[str], right: set[str]) -> bool:
    """The two words close together in the source's title or in one of its sentences."""
    if not (left & source.all_terms and right & source.all_terms):
        return False
    return any(_near(seq, left, right) for seq in [source.title_seq, *source.sentence_seqs])


def group_weight(group: set[str], weights: Mapping[str, float], fallback: float) -> float:
    """A question word's weight: its most informative term's."""
    return max((weights.get(t, fallback) for t in group), default=fallback)


def topic_score(
    source: ParsedSource,
    groups: list[set[str]],
    phrases: list[tuple[set[str], set[str]]],
    weights: Mapping[str, float],
    fallback: float,
) -> float:
    """How well the paper covers the question's topic (0..1): word share and phrase share."""
    w = [group_weight(g, weights, fallback) for g in groups]
    total = sum(w)
    if not groups or total <= 0:
        return 0.0
    words = sum(x for g, x in zip(groups, w, strict=True) if g & source.all_terms) / total
    if not phrases:
        return words
    pw = [
        group_weight(a, weights, fallback) + group_weight(b, weights, fallback) for a, b in phrases
    ]
    found = sum(x for (a, b), x in zip(phrases, pw, strict=True) if has_phrase(source, a, b)) / (
        sum(pw) or 1.0
    )
    return (1 - PHRASE_SHARE) * words + PHRASE_SHARE * found
