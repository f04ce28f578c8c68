"""The offline model's evidence answers: a lead line, then per relevant paper its short title,
year and the one to three sentences that answer the question, in the third person, cited.

Comparisons put the named papers side by side (what each is, its data, its numbers). When
the papers found are about the topic but do not report what is asked, the answer says so and
names them; with nothing relevant it abstains without a citation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from assistant.chat.offline_detail import Detail
from assistant.chat.offline_prompt import CONTRIBUTION, ParsedSource
from assistant.chat.offline_score import (
    MIN_COVERAGE,
    MIN_SENTENCE,
    Relevance,
    Scored,
    score_sources,
)
from assistant.names import NameTable
from assistant.prompts import ABSTAIN_SENTENCE
from assistant.text import GENERIC, STOPWORDS, stem, terms, words

MAX_PAPERS = 5
MAX_PER_PAPER = 3
RELATIVE_TOPIC = 0.5  # a paper's topic score against the best paper's, to be included
RELATIVE_TOPIC_LIST = 0.4  # ... when the question asks for papers ("which papers ...")
MIN_TOPIC = 0.15  # ... and at least this
# "Which papers ...", "what works ...": every paper that answers is wanted, not the best one.
_ASKS_FOR_PAPERS = re.compile(
    r"\b(which|what|any|all|other)\s+(\w+\s+)?(papers|works|studies|articles|approaches|"
    r"methods|methods|tools|benchmarks|datasets|models)\b",
    re.IGNORECASE,
)
RANK_PRIOR = 0.1  # the retriever's order breaks near-ties: source n gets this / n
RELATIVE_SENTENCE = 0.5  # a sentence's score against its paper's best, to be quoted
RELATIVE_PAPER = 0.4  # a paper's best sentence against the best of all papers, to be included
RESULT_BONUS = 0.05  # results and numbers first among sentences that answer equally well
CONTRIBUTION_BONUS = 0.05  # ... and what the authors introduce, propose or find
IDENTIFY_BONUS = 0.15  # ... more so when the question asks which work did something
NAMED_BONUS = 0.1  # a sentence with a name the question asks about (not the paper's own)
BACKGROUND_PENALTY = 0.1  # a sentence on others' work or a shortcoming, not the paper's
_QUANTITY = re.compile(r"\bhow (many|much|large|big|long)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
# "Which work/benchmark/agent ... ?", "Is there a dataset ...?": the answer names a paper's
# contribution, so the sentence that introduces it is wanted.
_IDENTIFY = re.compile(
    r"^\s*(which|what|is there (a|an|any))\s+(\w+\s+){0,2}?(work|paper|study|article|method|"
    r"model|dataset|benchmark|framework|agent|system|approach|tool|algorithm|technique|corpus|"
    r"resource|estimator|suite|metric|task|classifier|evaluation)\b(?!s)",
    re.IGNORECASE,
)
# "What is X?", "What does X do?", "Describe X": the sentence that says what X is comes first.
_DEFINE_QUESTION = re.compile(
    r"^\s*(what\s+(is|are|was|were|does|do)\b|what's\b|describe\b|explain\b|tell me about\b)",
    re.IGNORECASE,
)
# Where a sentence defines a name: right after an introducing verb, or before ", a ..." /
# " is a ...". A name merely mentioned ("Building on X, we introduce Y") does not count.
_INTRODUCING = re.compile(
    r"\b(introduc|present|propos|develop|releas|design|construct|creat|curat|build|buil[dt])\w*\s+(?!on\b|upon\b)",
    re.IGNORECASE,
)
_DEFINING_TAIL = re.compile(r"(,|\s+(is|are)|\s+--|\s+—)\s+(a|an)\s", re.IGNORECASE)
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
DEFINE_BONUS = 0.15
# "Does debate help ...?", "Can models ...?": answered by a finding, not by the setup.
_YES_NO = re.compile(r"^\s*(does|do|did|is|are|can|could|will|would|has|have)\b", re.IGNORECASE)
SILENT_COVERAGE = 0.25  # a paper this close to the question is "about it" when it is silent

RESULT = re.compile(
    r"\b(show|demonstrat|outperform|achiev|improv|find|found|reveal|result|surpass|reduc|"
    r"increas|boost|beat|exceed|gain|accura|score)\w*|\d+(\.\d+)?\s?%|\d+(\.\d+)?x\b",
    re.IGNORECASE,
)
# A leading clause that points back at text the reader has not seen ("To address these
# challenges, we ..."): dropped, the sentence stands alone without it.
_ANAPHORIC_OPENER = re.compile(
    r"^(?P<clause>(to|in|for|with|given|building|motivated|based|inspired|despite|because|as|"
    r"since|while|although|towards?|beyond|by|through|after|from|on)\b[^,;:]{0,100}?"
    r"\b(these|this|that|those|such|them|it|its|their|above|aforementioned|both)\b"
    r"[^,;:]{0,60}),\s+(?=(we|our)\b)",
    re.IGNORECASE,
)
_CONNECTIVE = re.compile(
    r"^(however|yet|moreover|furthermore|additionally|in addition|finally|overall|thus|"
    r"therefore|hence|in particular|specifically|importantly|notably|further|first(ly)?|"
    r"second(ly)?|third(ly)?|lastly|concretely|here|in this (paper|work|study|article)|"
    r"as a result|consequently|to this end|instead|in contrast|meanwhile|also|then|"
    r"crucially|surprisingly|interestingly|unfortunately|fortunately|in summary|"
    r"in short|together|taken together|beyond this|beyond that)\s*,?\s+",
    re.IGNORECASE,
)
_FIRST_PERSON = [
    (re.compile(r"\bwe\b"), "the authors"),
    (re.compile(r"\bWe\b"), "The authors"),
    (re.compile(r"\bour\b"), "their"),
    (re.compile(r"\bOur\b"), "Their"),
    (re.compile(r"\bours\b"), "theirs"),
    (re.compile(r"\bus\b"), "them"),
    (re.compile(r"\bourselves\b"), "themselves"),
]
_THIS_PAPER = re.compile(r"^(this|the present|in this)\s+(paper|work|study|article)\b", re.I)


def quotable(sentence: str) -> bool:
    """A sentence that can stand alone: starts like a sentence, long enough to say something."""
    text = sentence.strip()
    if len(text.split()) < 5 or not text[:1].isalnum() or text[:1].islower():
        return False
    return not re.match(r"^(and|but|or|which|leading|resulting|including|e\.g)\b", text, re.I)


def third_person(sentence: str, name: str) -> str:
    """A quoted sentence that stands alone: no dangling opener, "we" -> "the authors"."""
    text = sentence.strip()
    for _ in range(2):
        text = _CONNECTIVE.sub("", text)
        match = _ANAPHORIC_OPENER.match(text)
        if match and len(match.group("clause").split()) <= 14:
            text = text[match.end() :]
    text = _THIS_PAPER.sub("The paper", text)
    if re.match(r"^(it|they)\b", text, re.IGNORECASE):
        text = re.sub(r"^(it|they)\b", name, text, count=1, flags=re.IGNORECASE)
    for pattern, replacement in _FIRST_PERSON:
        text = pattern.sub(replacement, text)
    # "Using X, We find" (a capital mid-sentence in the source) reads "the authors"
    text = re.sub(r"(?<=\w[,;:] )The authors\b", "the authors", text)
    return text[:1].upper() + text[1:] if text else text


def cite(sentence: str, number: int) -> str:
    """`sentence [n].` — the marker goes before the closing punctuation."""
    sentence = sentence.strip()
    match = re.search(r"([.!?]+[\"')\]]*)$", sentence)
    if match:
        return f"{sentence[: match.start()].rstrip()} [{number}]{match.group(1)}"
    return f"{sentence} [{number}]."


def short_name(source: ParsedSource) -> str:
    """The short title without closing punctuation, to be followed by a marker."""
    return source.short_title.rstrip("?!.")


def label(source: ParsedSource) -> str:
    """`WildGuard (2024)`: the paper's short title and year."""
    return f"{source.short_title} ({source.year})" if source.year else source.short_title


def paragraph(source: ParsedSource, picks: list[int]) -> str:
    """`Short title (year): sentence [n]. sentence [n].` in the order given (best first)."""
    body = " ".join(
        cite(third_person(source.sentences[i], source.short_title), source.number) for i in picks
    )
    return f"{label(source)}: {body}"


def lead(count: int) -> str:
    """`3 papers in the collection address this:`."""
    if count == 1:
        return "1 paper in the collection addresses this:"
    return f"{count} papers in the collection address this:"


# ----------------------------------------------------------------- answers


def _ranked(item: Scored, relevance: Relevance, question: str) -> list[tuple[float, float, int]]:
    """Sentences as (order score, gate score, index), best first (a total order).

    The gate score (checked against the quoting floor) is the sentence's share of the
    question plus a bonus for what answers it directly: a name the question asks about, the
    asked quantity with a number, the header line for a who/when question, the paper's
    contribution for "which work ...?". The order score adds the kind of sentence: results
    and contributions go up, background (others' work, what falls short) goes down; these
    only reorder.
    """
    source = item.source
    sents = source.sentences
    identify = bool(_IDENTIFY.search(question))
    yes_no = bool(_YES_NO.match(question))
    define = bool(_DEFINE_QUESTION.search(question)) and bool(relevance.named)
    own = set(terms(source.title))
    names = [n for n in relevance.named if not n <= own]
    amounts = [d for d in relevance.details if d.number]

    def gate(score: float, i: int) -> float:
        if i == 0 and source.meta_first:  # made for a who/when question: it answers it
            return score + IDENTIFY_BONUS
        if any(d.carried_by(sents[i], source.sentence_terms[i]) for d in amounts):
            score += IDENTIFY_BONUS  # "how many participants": "295 participants"
        if any(n <= source.sentence_terms[i] for n in names):
            score += NAMED_BONUS
        if identify and CONTRIBUTION.search(sents[i]):
            score += IDENTIFY_BONUS  # "which work ...?": the sentence naming what it made
        if yes_no and RESULT.search(sents[i]) and _NUMBER.search(sents[i]):
            score += IDENTIFY_BONUS  # "does X help ...?": the measured finding answers it
        return score

    def order(score: float, i: int) -> float:
        text = sents[i]
        score += RESULT_BONUS if RESULT.search(text) else 0.0
        if not identify and CONTRIBUTION.search(text):
            score += CONTRIBUTION_BONUS
        if i < len(source.background) and source.background[i]:
            score -= BACKGROUND_PENALTY
        if define and _defines(text, relevance.named):
            score += DEFINE_BONUS
        if yes_no and RESULT.search(text) and _NUMBER.search(text):
            score += RESULT_BONUS * 2  # a yes/no question: findings before the study's setup
        return score

    gated = [(gate(score, i), rank, i) for rank, (score, i) in enumerate(item.ranked)]
    ranked = sorted(
        ((order(g, i), g, rank, i) for g, rank, i in gated), key=lambda p: (-p[0], p[2])
    )
    return [(o, g, i) for o, g, _, i in ranked]


def _defines(sentence: str, named: list[set[str]]) -> bool:
    """True when `sentence` says what one of the `named` things is: the name follows an
    introducing verb closely, or opens a ", a ..." / " is a ..." clause."""
    sentence = _URL.sub(" ", sentence)  # "released at https://.../x": a link, not a definition
    for verb in _INTRODUCING.finditer(sentence):
        after = set(terms(sentence[verb.end() : verb.end() + 40]))
        if any(name and name <= after for name in named):
            return True
    tail = _DEFINING_TAIL.search(sentence[:60])
    if tail is not None:  # the sentence opens with the name: "X, a ...", "X is a ..."
        before = set(terms(sentence[: tail.start()]))
        return any(name and name <= before and len(before - name) <= 1 for name in named)
    return False


def _picks(item: Scored, relevance: Relevance, question: str, *, strong: bool) -> list[int]:
    """The paper's sentences to quote, best first: those over the floor that have several
    of the question's words and stand alone (`strong`: only the ones close to its best)."""
    top = max((s for s, _ in item.ranked), default=0.0)
    floor = max(MIN_SENTENCE, RELATIVE_SENTENCE * top)
    # Words the question uses to name this paper by its title ("the Delphi experiment")
    # need not come back in each sentence.
    naming = set(terms(question)) & set(terms(item.source.title))
    need = max(1, min(2, relevance.n_terms - max(0, len(naming) - 1)))
    picks = [
        (g, i)
        for _, g, i in _ranked(item, relevance, question)
        if g >= floor
        and item.sentence_words.get(i, 0) >= need
        and quotable(item.source.sentences[i])
    ]
    close = [i for g, i in picks if g >= 0.6 * top]
    return ((close if strong else []) or [i for _, i in picks])[:MAX_PER_PAPER]


def _relevant(relevance: Relevance, question: str) -> list[tuple[Scored, list[int]]]:
    """Papers that answer the question, with their sentences to quote (best first).

    A paper counts when it covers the question nearly as well as the best one and one of its
    sentences matches several of the question's words: sharing one word is not enough.
    """
    scored = sorted(
        relevance.scored,
        key=lambda s: (-(s.topic + RANK_PRIOR / max(1, s.source.number)), s.source.number),
    )
    pinned = _pinned(scored, question)
    if pinned:  # "How many parameters does the model from X have?": X answers, no other
        scored = [item for item in scored if item.source.number in pinned]
    best = max(item.topic for item in scored)
    share = RELATIVE_TOPIC_LIST if _ASKS_FOR_PAPERS.search(question) else RELATIVE_TOPIC
    best_sentence = max((s for item in scored for s, _ in item.ranked), default=0.0)
    chosen: list[tuple[Scored, list[int]]] = []
    for item in scored:
        if len(chosen) >= MAX_PAPERS or item.topic < max(MIN_TOPIC, share * best):
            break
        if item.coverage < MIN_COVERAGE or not relevance.names_one(item):
            continue
        top = max((s for s, _ in item.ranked), default=0.0)
        if top < max(MIN_SENTENCE, RELATIVE_PAPER * best_sentence):
            continue
        picks = _carrying(item, relevance, _picks(item, relevance, question, strong=True))
        if picks:
            chosen.append((item, picks))
    if len(chosen) == 1:  # one paper answers: quote up to three of its good sentences
        item, _ = chosen[0]
        picks = _picks(item, relevance, question, strong=False)
        chosen = [(item, _carrying(item, relevance, picks))]
    return chosen


def _pinned(scored: list[Scored], question: str) -> set[int]:
    """The numbers of the sources a question about one or more named papers names (by
    short title or title acronym); empty when it asks which papers or
    works do something, where a named paper is the topic, not the answer."""
    if _ASKS_FOR_PAPERS.search(question) or _IDENTIFY.search(question):
        return set()
    # titles only: a name an abstract introduces may be its dataset ("WildJailbreak")
    rows = ((str(i.source.number), i.source.title, "") for i in scored)
    table = NameTable.build(rows, introduced=False)
    return {int(n) for n in table.named(question)}


def _carrying(item: Scored, relevance: Relevance, picks: list[int]) -> list[int]:
    """The picks when the question asks no specific detail; else the sentences carrying
    each detail it asks (the picks that do first), or nothing when one is not reported."""
    if not relevance.details:
        return picks
    source = item.source

    def carries(i: int, detail: Detail) -> bool:
        return detail.carried_by(source.sentences[i], source.sentence_terms[i])

    ranked = [i for _, i in item.ranked if quotable(source.sentences[i])]
    out = [i for i in picks if any(carries(i, d) for d in relevance.details)]
    for detail in relevance.details:
        if any(carries(i, detail) for i in out):
            continue
        found = next((i for i in ranked if carries(i, detail)), None)
        if found is None:
            return []  # the paper is about the topic but does not report this
        out.append(found)
    return [*out, *(i for i in picks if i not in out)][:MAX_PER_PAPER]


def answer(
    sources: list[ParsedSource], question: str, weights: Mapping[str, float] | None = None
) -> str:
    """The evidence answer to `question` from `sources` (`weights`: the question's terms'
    IDF over the whole collection, see `ModelRequest.term_weights`)."""
    relevance = score_sources(sources, question, weights)
    if not relevance.supported():
        return not_reported(relevance, question)
    chosen = _relevant(relevance, question)
    if not chosen:
        return not_reported(relevance, question)
    parts = [lead(len(chosen))]
    parts.extend(paragraph(item.source, picks) for item, picks in chosen)
    return "\n\n".join(parts)


def not_reported(relevance: Relevance, question: str) -> str:
    """Say which papers were checked and what they do not report; or abstain plainly."""
    about = [
        item
        for item in relevance.scored
        if relevance.names_one(item)
        and (
            (relevance.named and any(name & item.source.all_terms for name in relevance.named))
            or (max(item.coverage, item.topic) >= SILENT_COVERAGE and item.matched >= 2)
        )
    ][:3]
    if not about:
        return ABSTAIN_SENTENCE
    seen = set().union(*(item.source.all_terms for item in about))
    missing = _missing_phrases(question, seen)
    names = [f"{short_name(item.source)} [{item.source.number}]" for item in about]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    what = " or ".join(missing) if missing else "an answer to this question"
    untold = [
        d.phrase
        for d in relevance.details
        if not any(
            d.carried_by(sentence, sentence_terms)
            for item in about
            for sentence, sentence_terms in zip(
                item.source.sentences, item.source.sentence_terms, strict=True
            )
        )
    ]
    # a name inside parentheses glosses the question ("agreement (Cohen's kappa)"): the
    # thing asked is what is missing, not the name
    asides = " ".join(re.findall(r"\(([^)]*)\)", question))
    unseen = [e for e in relevance.unseen_entities if e not in asides]
    if unseen:  # the name itself is what no checked paper has
        return f"The abstracts of {joined} do not mention {' or '.join(unseen)}."
    if untold:  # what was asked for ("the crowdsourcing platform") is in no checked paper
        return f"The abstracts of {joined} do not report {' or '.join(untold)}."
    if relevance.unseen_entities:  # the name itself is what no checked paper has
        what = " or ".join(relevance.unseen_entities)
        return f"The abstracts of {joined} do not mention {what}."
    return f"The abstracts of {joined} do not report {what}."


def _missing_phrases(question: str, seen: set[str]) -> list[str]:
    """The question's phrases (runs of content words) with a word no checked paper has."""
    runs: list[list[tuple[str, bool]]] = [[]]
    for word in re.findall(r"[A-Za-z0-9][\w'’-]*", question):
        lower = word.lower()
        parts = [stem(w) for w in words(lower) if w not in STOPWORDS]
        if lower in STOPWORDS or lower in GENERIC or not parts:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((word, not any(p in seen for p in parts)))
    phrases = [" ".join(w for w, _ in run) for run in runs if any(m for _, m in run)]
    return phrases[:3]
