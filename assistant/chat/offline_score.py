"""The offline model's relevance: how well each source covers a question, sentence by sentence.

Coverage is the share of the question's IDF-weighted content terms a source has (IDF over
the given sources, so words every source has weigh little). The abstention rule
(`Relevance.supported`) was tuned on the seed eval set (evals/datasets/seed.jsonl).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from assistant.chat.offline_detail import Detail, details
from assistant.chat.offline_prompt import ParsedSource
from assistant.chat.offline_topic import disjuncts, question_phrases, topic_score
from assistant.questions import entities
from assistant.text import format_authors, idf_table, terms

MIN_COVERAGE = 0.3  # share of the question's IDF-weighted content terms the best source has
MIN_MATCHED = 3  # ... and at least this many of its content terms,
MIN_MATCHED_SHARE = 0.6  # ... or this share of them (short questions)
MIN_SENTENCE = 0.1  # share of the weight a sentence must cover to be quoted
TITLE_DAMPING = 0.3  # weight of a paper's own title words when ranking its sentences
# Questions about who wrote a paper or when: the sources' header lines can answer them.
_META_INTENT = re.compile(
    r"\b(who|authors?|authored|co-?authors?(ed)?|wrote|written|writers?|year|when|published|"
    r"publication|appeared?|released?|date)\b",
    re.IGNORECASE,
)
_META_TERMS = frozenset(
    [
        "author",
        "coauthor",
        "co",
        "wrote",
        "written",
        "year",
        "publish",
        "public",
        "appear",
        "releas",
        "date",
    ]
)


# Questions that ask for results ("what results does X report?", "how well does X do?"):
# a sentence with a number or a finding answers them even without the question's words.
_RESULT_INTENT = re.compile(
    r"\b(results?|report(s|ed)?|find(ings?|s)?|found|show(s|ed)?|achiev\w*|perform\w*|"
    r"outcomes?|numbers?|how (well|much|many|good|accurate)|improv\w*|gains?|accuracy|"
    r"effective\w*|success rate|margin|beat|outperform\w*|by how much|how much)\b",
    re.IGNORECASE,
)
RESULT_SENTENCE = re.compile(
    r"\b(show|demonstrat|outperform|achiev|improv|find|found|reveal|surpass|reduc|"
    r"increas|boost|beat|exceed|gain|accura)\w*|\d+(\.\d+)?\s?%|\d+(\.\d+)?x\b",
    re.IGNORECASE,
)
_RESULT_TERMS = frozenset(
    terms(
        "result results report find finding show achieve perform outcome improve gain accuracy "
        "margin beat outperform"
    )
)
# The retriever's order carries meaning the word overlap misses: source n gets this / n.
RANK_PRIOR = 0.15


@dataclass
class Scored:
    """One source's coverage of the question and its sentences ranked."""

    source: ParsedSource
    coverage: float
    # (sentence score, sentence index), best first (own-title words damped in the order)
    ranked: list[tuple[float, int]]
    matched: int = 0  # question words the source has (a hyphenated word counts once)
    # per sentence index: how many question words it has
    sentence_words: dict[int, int] = field(default_factory=dict)
    # how well it covers the question's topic, by collection-wide word weights and phrases
    topic: float = 0.0


@dataclass
class Relevance:
    """How well the sources cover a query, and each source's sentences ranked."""

    scored: list[Scored]
    n_terms: int  # content terms in the query
    unseen_entities: list[str]  # names in the query that no source mentions
    named: list[set[str]] = field(default_factory=list)  # terms of names some source has
    wanted: set[str] = field(default_factory=set)  # the query's content terms
    groups: list[set[str]] = field(default_factory=list)  # the terms of each question word
    asked: set[str] = field(default_factory=set)  # what "which X" / "what X" asks for
    whole: list[Scored] = field(default_factory=list)  # scored on the whole question, sorted
    details: list[Detail] = field(default_factory=list)  # what it asks for (`details`)

    def names_one(self, item: Scored) -> bool:
        """True when the question names no paper-specific thing, or `item` has one of them."""
        return not self.named or any(name & item.source.all_terms for name in self.named)

    def supported(self) -> bool:
        """The abstention rule: enough IDF-weighted coverage, enough matched terms, the
        thing the question asks for ("which license", "what batch size") mentioned by some
        source, and no named entity of the question missing from every source."""
        if not self.scored:
            return False
        for detail in self.details:  # "which license": some source must name one
            if detail.terms and not any(detail.terms & i.source.all_terms for i in self.scored):
                return False
        # Judged on the whole question, not on one side of an "A or B": a source that
        # covers one short alternative is no evidence the question is answerable.
        best = (self.whole or self.scored)[0]
        if best.coverage < MIN_COVERAGE:
            return False
        if best.matched < MIN_MATCHED and best.matched < MIN_MATCHED_SHARE * self.n_terms:
            return False
        # A name the question asks about that no source mentions: the papers found are
        # about something else, however many other words they share.
        return not self.unseen_entities


def with_metadata(source: ParsedSource) -> ParsedSource:
    """The source with one more sentence built from its header (title, year, authors)."""
    year = f" ({source.year})" if source.year else ""
    authors = format_authors(source.authors, truncated=source.authors_truncated, limit=6)
    if not authors and not year:
        return source
    sentence = (
        f"{source.title}{year} is by {authors.rstrip('.')}."
        if authors
        else f"{source.title}{year}."
    )
    meta_terms = set(terms(f"{source.title} {authors} {source.year or ''}")) | _META_TERMS
    return replace(
        source,
        sentences=[sentence, *source.sentences],
        sentence_terms=[meta_terms, *source.sentence_terms],
        sentence_seqs=[terms(sentence), *source.sentence_seqs],
        background=[False, *source.background],
        meta_first=True,
        all_terms=source.all_terms | meta_terms,
    )


def with_results(source: ParsedSource, wanted: set[str]) -> ParsedSource:
    """The source with the question's "results" words added to its result sentences."""
    extra = _RESULT_TERMS & wanted
    if not extra:
        return source
    sentence_terms = [
        t | extra if RESULT_SENTENCE.search(s) else t
        for s, t in zip(source.sentences, source.sentence_terms, strict=True)
    ]
    return replace(source, sentence_terms=sentence_terms, all_terms=source.all_terms | extra)


# First parts of hyphenated words that say nothing on their own.
_PREFIXES = frozenset(
    "multi non self pre post co cross sub inter intra semi anti single mid meta".split()  # noqa: SIM905
)


def _word_terms(word: str) -> set[str]:
    """A word's terms; a versioned name ("GPT-4", "Llama-2") is only its joined form, so
    GPT-3 does not count as a mention of GPT-4."""
    found = set(terms(word, drop_generic=True))
    parts = [p for p in re.split(r"[-‐]", word) if p]
    if len(parts) > 1 and any(p.isdigit() for p in parts):
        joined = set(terms("".join(parts)))
        return joined or found
    if len(parts) > 1 and parts[0].lower() in _PREFIXES:  # "multi-turn" is not "multi-task"
        return found - set(terms(parts[0]))
    return found


def asked_for(query: str) -> set[str]:
    """The terms of the things the question asks for ("which platform", "how many
    parameters"); nothing for "what is ...", "which papers ..." and other generic frames."""
    return set().union(*(d.terms for d in details(query)))


def question_groups(query: str) -> list[set[str]]:
    """The content terms of each content word of the question (GPT-4 -> {gpt, gpt4})."""
    groups = [_word_terms(w) for w in re.findall(r"[\w'’*-]+", query)]
    groups = [g for g in groups if g]
    if not groups:
        groups = [set(terms(w)) for w in re.findall(r"[\w'’*-]+", query)]
    unique: list[set[str]] = []
    for g in groups:
        if g and g not in unique:
            unique.append(g)
    return unique


def _written(name: str, texts: list[str]) -> bool:
    """The name at the start of a word in some text ("ANION" in "ANION1, a new graph")."""
    pattern = re.compile(r"(?<![a-z0-9])" + re.escape(name.lower()))
    return any(pattern.search(text) for text in texts)


def alternatives(
    query: str, groups: list[set[str]]
) -> list[tuple[list[set[str]], list[tuple[set[str], set[str]]]]]:
    """The question's word groups and phrases, whole and per alternative of each "A or B"
    (the other side's words left out, unless the rest of the question has them too)."""
    phrases = question_phrases(query)
    out = [(groups, phrases)]
    for left, right in disjuncts(query):
        for side, other in ((left, right), (right, left)):
            kept = set().union(*(_word_terms(w) for w in side))
            dropped = set().union(*(_word_terms(w) for w in other)) - kept
            alt = [g for g in groups if not g <= dropped]
            if alt and alt != groups:
                out.append(
                    (alt, [(a, b) for a, b in phrases if not (a <= dropped or b <= dropped)])
                )
    return out


def _score(
    source: ParsedSource,
    groups: list[set[str]],
    phrases: list[tuple[set[str], set[str]]],
    idf: Mapping[str, float],
    cap: float,
    topic_weights: Mapping[str, float],
    top_weight: float,
) -> Scored:
    """One source's coverage, ranked sentences and topic score for one reading of the question."""
    wanted = set().union(*groups)
    weight = {t: min(cap, idf.get(t, cap)) or 1e-6 for t in wanted}
    total = sum(weight.values())
    hit = wanted & source.all_terms
    coverage = sum(weight[t] for t in hit) / total
    # Within a paper, words of its own title say which paper, not which sentence.
    own = set(terms(source.title))
    local = {t: w * (TITLE_DAMPING if t in own else 1.0) for t, w in weight.items()}
    order = sorted(
        range(len(source.sentence_terms)),
        key=lambda i: (-sum(local[t] for t in wanted & source.sentence_terms[i]), i),
    )
    ranked = [(sum(weight[t] for t in wanted & source.sentence_terms[i]) / total, i) for i in order]
    per_sentence = {
        i: sum(1 for g in groups if g & source.sentence_terms[i])
        for i in range(len(source.sentence_terms))
    }
    matched = sum(1 for g in groups if g & hit)
    topic = topic_score(source, groups, phrases, topic_weights, top_weight)
    return Scored(source, coverage, ranked, matched, per_sentence, topic)


def score_sources(
    sources: list[ParsedSource], query: str, weights: Mapping[str, float] | None = None
) -> Relevance:
    """Sources by coverage of the query's IDF-weighted content terms, best first.

    `weights` (IDF over the whole collection) score each source's `topic`; without them
    the IDF over the given sources stands in.

    Ties are broken by the best sentence's score, then by source number (a total order).
    """
    if _META_INTENT.search(query):
        sources = [with_metadata(s) for s in sources]
    groups = question_groups(query)
    wanted = set().union(*groups) if groups else set()
    if not wanted or not sources:
        return Relevance([], len(groups), [], wanted=wanted, groups=groups)
    if _RESULT_INTENT.search(query):
        sources = [with_results(s, wanted) for s in sources]
    idf, _ = idf_table(s.all_terms for s in sources)
    cap = math.log((len(sources) + 1) / 1.5)
    topic_weights = weights or {t: min(cap, idf.get(t, cap)) or 1e-6 for t in wanted}
    top_weight = max(topic_weights.values(), default=cap)
    options = alternatives(query, groups)
    readings = [
        [_score(source, alt, phrases, idf, cap, topic_weights, top_weight) for source in sources]
        for alt, phrases in options
    ]
    # each source on its best reading; the first (the whole question) on ties
    scored = _sorted([max(per, key=lambda s: s.topic) for per in zip(*readings, strict=True)])
    seen = set().union(*(s.all_terms for s in sources))
    names = [(e, set(terms(e.replace("-", "")))) for e in entities(query)]
    names = [(e, name) for e, name in names if name]  # "A*": nothing left to look for
    texts = [f"{s.title} {s.text}".lower() for s in sources]
    unseen = [e for e, name in names if not name & seen and not _written(e, texts)]
    named = [name for _, name in names if name & seen]
    return Relevance(
        scored,
        len(groups),
        unseen,
        named,
        wanted,
        groups,
        asked_for(query),
        _sorted(readings[0]),
        details(query),
    )


def _sorted(scored: list[Scored]) -> list[Scored]:
    """By coverage (the retriever's order a prior), best sentence, then number: total."""
    return sorted(
        scored,
        key=lambda s: (
            -(s.coverage + RANK_PRIOR / max(1, s.source.number)),
            -(s.ranked[0][0] if s.ranked else 0.0),
            s.source.number,
        ),
    )
