"""Does a paper address the question's topic, or only share a word with it?

Two signals, both weighted by how informative each word is in the whole collection (IDF
over every indexed paper, `ModelRequest.term_weights`): the share of the question's weight
a paper has, and the share of the question's phrases ("safety moderation", "moral
reasoning": content words next to each other in the question) it has as phrases, the words
close together in one sentence or its title, in any order. A paper that has "safety" in one
sentence and "tools" in another covers the words but not the concept.

Words found only in background sentences (others' work, what falls short: "existing
moderation methods fall short") count for little: a paper whose contribution is the topic
ranks above one that mentions it in passing. "A or B" questions are scored per alternative
(`disjuncts`): a paper that answers either one is on the topic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise

from assistant.chat.offline_prompt import ParsedSource
from assistant.text import GENERIC, STOPWORDS, terms

PHRASE_WINDOW = 3  # at most this many terms apart (stopwords are not terms) in one sentence
PHRASE_SHARE = 0.5  # weight of the phrase share in the topic score (the rest: word share)
BACKGROUND_CREDIT = 0.3  # share of a match found only in background sentences that counts
# A disjunct of at least this many content words on both sides is a clause ("reduce X or
# help Y"); shorter ones coordinate single words ("safety or policy adherence").
CLAUSE_DISJUNCT = 3
_PREPOSITIONS = frozenset("of in on for to from with about by at into over".split())  # noqa: SIM905
# Clause-level breaks for disjunct scope: punctuation and clause words, not "or"/"and".
_SCOPE_BREAK = re.compile(
    r"[,;:?!()\"“”]|\b(which|that|where|whether|when|while|who|how|what|why|than|instead|"
    r"rather|compared|between)\b",
    re.IGNORECASE,
)
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


def has_phrase(
    source: ParsedSource, left: set[str], right: set[str], *, foreground: bool = False
) -> bool:
    """The two words close together in the source's title or in one of its sentences
    (`foreground`: not counting background sentences)."""
    if not (left & source.all_terms and right & source.all_terms):
        return False
    seqs = source.sentence_seqs
    if foreground:
        seqs = [q for q, bg in zip(seqs, source.background, strict=True) if not bg]
    return any(_near(seq, left, right) for seq in [source.title_seq, *seqs])


def disjuncts(query: str) -> list[tuple[list[str], list[str]]]:
    """The two sides (their words) of each "A or B" in the question.

    Single words are coordinated unless both sides are clauses of CLAUSE_DISJUNCT content
    words or more; a right side that opens with a preposition ("of X or of Y") pairs with
    the left side from the same preposition on.
    """
    out: list[tuple[list[str], list[str]]] = []
    for segment in _SCOPE_BREAK.split(query):
        if not segment or _SCOPE_BREAK.fullmatch(segment):
            continue
        tokens = re.findall(r"[\w'’*-]+", segment)
        for at, token in enumerate(tokens):
            if token.lower() != "or" or at == 0 or at == len(tokens) - 1:
                continue
            left, right = tokens[:at], tokens[at + 1 :]
            if "or" in (t.lower() for t in right):
                right = right[: [t.lower() for t in right].index("or")]
            first = right[0].lower() if right else ""
            if first in _PREPOSITIONS and first in (t.lower() for t in left):
                cut = max(i for i, t in enumerate(left) if t.lower() == first)
                left = left[cut:]
            left_c, right_c = _content(left), _content(right)
            if not left_c or not right_c:
                continue
            clauses = min(len(left_c), len(right_c)) >= CLAUSE_DISJUNCT
            if clauses or first in _PREPOSITIONS:
                out.append((left_c, right_c))
            else:
                out.append((left_c[-1:], right_c[:1]))
    return out


def _content(tokens: list[str]) -> list[str]:
    return [
        t for t in tokens if t.lower() not in STOPWORDS and t.lower() not in GENERIC and terms(t)
    ]


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
    """How well the paper covers the question's topic (0..1): word share and phrase share,
    a match only in background sentences counting BACKGROUND_CREDIT of a full one."""
    w = [group_weight(g, weights, fallback) for g in groups]
    total = sum(w)
    if not groups or total <= 0:
        return 0.0
    fg_terms = set(source.title_seq).union(
        *(t for t, bg in zip(source.sentence_terms, source.background, strict=True) if not bg)
    )

    def share(have: set[str]) -> float:
        return sum(x for g, x in zip(groups, w, strict=True) if g & have) / total

    words = share(fg_terms) + BACKGROUND_CREDIT * (share(source.all_terms) - share(fg_terms))
    if not phrases:
        return words
    pw = [
        group_weight(a, weights, fallback) + group_weight(b, weights, fallback) for a, b in phrases
    ]
    whole = sum(pw) or 1.0
    every = sum(x for (a, b), x in zip(phrases, pw, strict=True) if has_phrase(source, a, b))
    front = sum(
        x
        for (a, b), x in zip(phrases, pw, strict=True)
        if has_phrase(source, a, b, foreground=True)
    )
    found = (front + BACKGROUND_CREDIT * (every - front)) / whole
    return (1 - PHRASE_SHARE) * words + PHRASE_SHARE * found
