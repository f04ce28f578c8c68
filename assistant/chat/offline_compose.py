"""The offline model's writing: extractive, cited answers, summaries and overviews.

Answers are the most relevant sentences of the sources in the prompt, each followed by the
number of the source it came from; when the sources do not cover the question, the model
abstains (see `_Relevance.supported`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from assistant.chat.offline_condense import condense
from assistant.chat.offline_prompt import ParsedSource, read_source
from assistant.messages import ModelRequest
from assistant.prompts import ABSTAIN_SENTENCE
from assistant.text import STOPWORDS, format_authors, idf_table, terms

# Tuned on the seed eval set (evals/datasets/seed.jsonl): below these the sources do not
# support an answer and the model abstains.
MIN_COVERAGE = 0.3  # share of the question's IDF-weighted content terms the best source has
MIN_MATCHED = 3  # ... and at least this many of its content terms,
MIN_MATCHED_SHARE = 0.6  # ... or this share of them (short questions)
ENTITY_COVERAGE = 0.5  # a name no source mentions: abstain unless coverage reaches this
MIN_SENTENCE = 0.1  # share of the weight a sentence must cover to be quoted
SENTENCE_RATIO = 0.5  # ... and this fraction of the best sentence's score
TITLE_DAMPING = 0.3  # weight of a paper's own title words when ranking its sentences
# Capitalized words that are not names of anything specific in this domain.
_NOT_ENTITIES = frozenset(
    ["ai", "llm", "llms", "lm", "lms", "nlp", "ml", "gpt", "i", "which", "what", "how", "who"]
)
JUDGE_SUPPORT = 0.6  # share of a sentence's content terms a source must have (judge task)
MAX_SENTENCES = 5
MAX_PER_SOURCE = 2
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
_PROBLEM = re.compile(
    r"\b(challeng|problem|gap|limit|lack|however|yet|risk|remain|hinder|difficult|issue|"
    r"scarcit|need)\w*",
    re.IGNORECASE,
)
_METHOD = re.compile(
    r"\b(we|this paper|this work|our work)\s+(\w+\s+){0,2}(present|propose|introduce|develop|"
    r"release|build|design|stud|investigat|examin|explor|curat|construct|creat|train|"
    r"formaliz|leverag|cast|conduct)\w*",
    re.IGNORECASE,
)
_RESULT = re.compile(
    r"\b(show|demonstrat|outperform|achiev|improv|find|found|reveal|result|experiment|"
    r"evaluat|surpass|reduc|increas|boost)\w*|\d+(\.\d+)?\s?%",
    re.IGNORECASE,
)


# ----------------------------------------------------------------- relevance


@dataclass
class _Scored:
    source: ParsedSource
    coverage: float
    # (sentence score, sentence index), best first (own-title words damped in the order)
    ranked: list[tuple[float, int]]
    matched: int = 0  # query terms the source has


def with_metadata(source: ParsedSource) -> ParsedSource:
    """The source with one more sentence built from its header (title, year, authors)."""
    year = f" ({source.year})" if source.year else ""
    authors = format_authors(source.authors, truncated=source.authors_truncated, limit=6)
    if not authors and not year:
        return source
    sentence = f"{source.title}{year} is by {authors}." if authors else f"{source.title}{year}."
    meta_terms = set(terms(f"{source.title} {authors} {source.year or ''}")) | _META_TERMS
    return ParsedSource(
        number=source.number,
        title=source.title,
        text=source.text,
        authors=source.authors,
        authors_truncated=source.authors_truncated,
        year=source.year,
        arxiv_id=source.arxiv_id,
        sentences=[sentence, *source.sentences],
        sentence_terms=[meta_terms, *source.sentence_terms],
        all_terms=source.all_terms | meta_terms,
    )


@dataclass
class _Relevance:
    """How well the sources cover a query, and each source's sentences ranked."""

    scored: list[_Scored]
    n_terms: int  # content terms in the query
    unseen_entities: list[str]  # names in the query that no source mentions
    named: list[set[str]] = field(default_factory=list)  # terms of names some source has

    def names_one(self, item: _Scored) -> bool:
        """True when the question names no paper-specific thing, or `item` has one of them."""
        return not self.named or any(name & item.source.all_terms for name in self.named)

    def supported(self) -> bool:
        """The abstention rule: enough IDF-weighted coverage, enough matched terms,
        and no named entity of the question missing from every source (unless the
        coverage is high anyway)."""
        if not self.scored:
            return False
        best = self.scored[0]
        matched = best.matched
        if best.coverage < MIN_COVERAGE:
            return False
        if matched < MIN_MATCHED and matched < MIN_MATCHED_SHARE * self.n_terms:
            return False
        return not (self.unseen_entities and best.coverage < ENTITY_COVERAGE)


def _entities(query: str) -> list[str]:
    """Name-like words of the query: capitalized inside the sentence, acronyms, CamelCase.

    Hyphenated words count when a part is name-like ("X-Teaming", "GPT2-XL"), not when
    the only capitals are a generic acronym ("LLM-generated").
    """
    found: list[str] = []
    for i, match in enumerate(re.finditer(r"[A-Za-z][\w'’*-]*", query)):
        word = re.sub(r"['’]s?$", "", match.group(0))
        parts = [p for p in word.split("-") if p]
        named = [
            p
            for p in parts
            if p[0].isupper() and p.lower() not in _NOT_ENTITIES and p.lower() not in STOPWORDS
        ]
        if not named:
            continue
        if i == 0 and not any(c.isupper() for p in named for c in p[1:]):
            continue  # a capital that only starts the sentence
        found.append(word)
    return found


def _score(sources: list[ParsedSource], query: str) -> _Relevance:
    """Sources by coverage of the query's IDF-weighted content terms, best first.

    IDF is over the given sources (title + text each), so words every source has weigh
    little; a word no source has weighs as much as a word only one source has.
    """
    if _META_INTENT.search(query):
        sources = [with_metadata(s) for s in sources]
    wanted = set(terms(query, drop_generic=True)) or set(terms(query))
    if not wanted or not sources:
        return _Relevance([], len(wanted), [])
    idf, _ = idf_table(s.all_terms for s in sources)
    cap = math.log((len(sources) + 1) / 1.5)
    weight = {t: min(cap, idf.get(t, cap)) or 1e-6 for t in wanted}
    total = sum(weight.values())
    scored: list[_Scored] = []
    for source in sources:
        hit = wanted & source.all_terms
        coverage = sum(weight[t] for t in hit) / total
        # Within a paper, words of its own title say which paper, not which sentence.
        own = set(terms(source.title))
        local = {t: w * (TITLE_DAMPING if t in own else 1.0) for t, w in weight.items()}
        order = sorted(
            range(len(source.sentence_terms)),
            key=lambda i: (-sum(local[t] for t in wanted & source.sentence_terms[i]), i),
        )
        ranked = [
            (sum(weight[t] for t in wanted & source.sentence_terms[i]) / total, i) for i in order
        ]
        scored.append(_Scored(source, coverage, ranked, len(hit)))
    scored.sort(key=lambda s: (-s.coverage, -(s.ranked[0][0] if s.ranked else 0.0)))
    seen = set().union(*(s.all_terms for s in sources))
    names = [(e, set(terms(e.replace("-", "")))) for e in _entities(query)]
    unseen = [e for e, name in names if not name & seen]
    named = [name for _, name in names if name & seen]
    return _Relevance(scored, len(wanted), unseen, named)


def _cite(sentence: str, number: int) -> str:
    """`sentence [n].` — the marker goes before the closing punctuation."""
    sentence = sentence.strip()
    match = re.search(r"([.!?]+[\"')\]]*)$", sentence)
    if match:
        return f"{sentence[: match.start()].rstrip()} [{number}]{match.group(1)}"
    return f"{sentence} [{number}]."


def _paragraph(source: ParsedSource, picked: list[int]) -> str:
    """The chosen sentences of one source, in their original order, each cited."""
    parts = [_cite(source.sentences[i], source.number) for i in sorted(picked)]
    first = source.sentences[min(picked)]
    if source.short_title.lower() not in first.lower():
        parts[0] = f"{source.short_title} — {parts[0]}"
    return " ".join(parts)


def _picks(item: _Scored, best_sentence: float, limit: int) -> list[int]:
    """Up to `limit` of a source's sentences that score well enough to quote."""
    floor = max(MIN_SENTENCE, SENTENCE_RATIO * best_sentence)
    return [i for score, i in item.ranked if score >= floor][:limit]


def _select(relevance: _Relevance) -> list[str]:
    """Paragraphs for the supporting sources (2-5 sentences in all), or [] to abstain."""
    if not relevance.supported():
        return []
    scored = relevance.scored
    best = scored[0].coverage
    best_sentence = max((score for item in scored for score, _ in item.ranked), default=0.0)
    chosen: list[tuple[_Scored, list[int]]] = []
    for item in scored:
        if item.coverage < max(MIN_COVERAGE, 0.6 * best) or len(chosen) >= MAX_SENTENCES:
            break
        if not relevance.names_one(item):  # "How many languages does PolyGuard cover?"
            continue
        picks = _picks(item, best_sentence, 1)
        if picks:
            chosen.append((item, picks))
    if not chosen:
        return []
    # Add a second sentence from the best sources: two at least, five at most in all.
    count = len(chosen)
    target = max(2, min(MAX_SENTENCES, count + 1))
    for item, picks in chosen:
        if count >= target:
            break
        for score, i in item.ranked[1:MAX_PER_SOURCE]:
            if score > 0 and i not in picks:
                picks.append(i)
                count += 1
                break
    return [_paragraph(item.source, picks) for item, picks in chosen]


# ----------------------------------------------------------------- tasks


def compose(request: ModelRequest) -> str:
    """The reply to a request (the turn as data; the prompt's prose is never read)."""
    if request.task == "condense":
        return condense(request.history, request.question)
    if request.task == "judge":
        return judge(request)
    sources = [read_source(s) for s in request.sources]
    if request.task == "summary":
        return summarize(sources[0]) if sources else ABSTAIN_SENTENCE
    if request.task == "topic_summary":
        return topic_overview(sources, request.question)
    paragraphs = _select(_score(sources, request.question))
    return "\n\n".join(paragraphs) if paragraphs else ABSTAIN_SENTENCE


def summarize(source: ParsedSource) -> str:
    """Problem, method, results (and a second contribution) of one paper, from its own
    sentences (at most five), each cited."""
    sents = source.sentences
    if not sents:
        return ABSTAIN_SENTENCE
    picked: list[int] = []

    def first(pattern: re.Pattern[str], start: int = 0) -> int | None:
        return next(
            (i for i in range(start, len(sents)) if i not in picked and pattern.search(sents[i])),
            None,
        )

    method = first(_METHOD)
    problem = first(_PROBLEM, 0)
    if problem is None or (method is not None and problem > method):
        problem = 0 if method != 0 else None
    for index in (problem, method):
        if index is not None and index not in picked:
            picked.append(index)
    start = max(picked) + 1 if picked else 0
    for _ in range(2):
        result = first(_RESULT, start)
        if result is None:
            break
        picked.append(result)
        start = result + 1
    if method is not None:  # a second contribution ("we also release ...")
        extra = first(_METHOD, method + 1)
        if extra is not None:
            picked.append(extra)
    for i in range(len(sents)):
        if len(picked) >= 3:
            break
        if i not in picked:
            picked.append(i)
    body = " ".join(_cite(sents[i], source.number) for i in sorted(picked[:5]))
    return f"{source.title} [{source.number}]\n\n{body}"


def topic_overview(sources: list[ParsedSource], topic: str) -> str:
    """One or two sentences per paper about `topic`, grouped by paper, or an abstention."""
    relevance = _score(sources, topic)
    if not relevance.supported():
        return ABSTAIN_SENTENCE
    best = relevance.scored[0].coverage
    best_sentence = max(
        (score for item in relevance.scored for score, _ in item.ranked), default=0.0
    )
    paragraphs: list[str] = []
    for item in relevance.scored:
        if item.coverage < max(MIN_COVERAGE, 0.4 * best) or len(paragraphs) >= MAX_SENTENCES:
            break
        picks = _picks(item, best_sentence, 2)
        if picks:
            paragraphs.append(_paragraph(item.source, picks))
    return "\n\n".join(paragraphs) if paragraphs else ABSTAIN_SENTENCE


def judge(request: ModelRequest) -> str:
    """SUPPORTED when one source covers most of the sentence's content words (lexical)."""
    wanted = set(terms(request.question))
    if not wanted:
        return "NOT_SUPPORTED"
    best = max(
        (len(wanted & set(terms(f"{s.title} {s.text}"))) / len(wanted) for s in request.sources),
        default=0.0,
    )
    return "SUPPORTED" if best >= JUDGE_SUPPORT else "NOT_SUPPORTED"
