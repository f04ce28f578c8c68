"""The offline model's reading and writing: parse the rendered prompt, compose the reply.

Everything comes from the prompt text itself: the task heading, the numbered
`<source>` blocks, the `<question>` / `<topic>` / `<conversation>` / `<follow_up>` parts.
Answers are extractive: the most relevant sentences of the sources, each followed by the
number of the source it came from. Instruction-like sentences in sources are data, never
evidence, and are never followed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from assistant.chat.base import ChatMessage
from assistant.prompts import ABSTAIN_SENTENCE
from assistant.text import STOPWORDS, idf_table, sentences, terms

Task = Literal["answer", "summary", "topic", "condense"]

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
MAX_SENTENCES = 5
MAX_PER_SOURCE = 2

_TASK = re.compile(r"^#+\s*Task:\s*(.+)$", re.MULTILINE)
_SOURCE = re.compile(r'<source id="(\d+)">\s*\n(.*?)\n\s*</source>', re.DOTALL)
_FIELD = re.compile(r"^(Title|Authors|Year|arXiv):[ \t]*(.*)$", re.MULTILINE)
_TEXT = re.compile(r"^Text:[ \t]*(.*)\Z", re.MULTILINE | re.DOTALL)
_INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|prompt|rule|direction)s?\b"
    r"|\b(reply|respond|answer|output|say)\b.{0,20}\bonly\b"
    r"|\byou (are|must|should) now\b|\bsystem prompt\b|\bas an ai\b",
    re.IGNORECASE,
)
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
_SINGULAR_REF = re.compile(
    r"\b(this|that|the)\s+(paper|work|study|approach|method|framework|model|dataset|"
    r"benchmark|system|article)\b|\b(it)\b",
    re.IGNORECASE,
)
_POSSESSIVE_REF = re.compile(r"\bits\b", re.IGNORECASE)
_PLURAL_REF = re.compile(
    r"\b(these|those|the)\s+(papers|works|studies|approaches|methods)\b|\b(they|them)\b",
    re.IGNORECASE,
)
_PLURAL_POSSESSIVE = re.compile(r"\btheir\b", re.IGNORECASE)
# A previous question after one thing: its first cited paper is what "they" refers to.
_SINGULAR_QUESTION = re.compile(
    r"^\s*(which|what)\s+(\w+\s+)?(work|paper|model|method|system|framework|benchmark|"
    r"dataset|study|algorithm|tool|approach|technique)\b|^\s*is there\b",
    re.IGNORECASE,
)
_OTHER_REF = re.compile(r"\b(this|that|these|those|above|former|latter|same)\b", re.IGNORECASE)


@dataclass
class ParsedSource:
    """One numbered source as read back from the prompt."""

    number: int
    title: str
    text: str
    authors: str = ""
    year: str = ""
    arxiv_id: str = ""
    sentences: list[str] = field(default_factory=list)
    sentence_terms: list[set[str]] = field(default_factory=list)
    all_terms: set[str] = field(default_factory=set)

    @property
    def short_title(self) -> str:
        """A short name for the paper: its title up to the first colon or question mark."""
        return short_title(self.title)


def short_title(title: str) -> str:
    """`X-Teaming: Multi-Turn ...` -> `X-Teaming`; long titles are cut at a word boundary."""
    title = " ".join(title.split())
    match = re.match(r"(.+?)(?::\s|[?!]\s)", title)
    if match:
        head = match.group(1).strip() + ("" if title[match.end(1)] == ":" else title[match.end(1)])
        if len(head) <= 50:
            return head
    if len(title) <= 80:
        return title
    return " ".join(title[:80].split()[:-1]) + "…"


@dataclass
class ParsedPrompt:
    """What the prompt asks for and gives."""

    task: Task
    sources: list[ParsedSource]
    question: str = ""
    topic: str = ""
    conversation: str = ""
    follow_up: str = ""


def _section(text: str, tag: str) -> str:
    matches = re.findall(rf"<{tag}>\s*\n?(.*?)\n?\s*</{tag}>", text, re.DOTALL)
    return matches[-1].strip() if matches else ""


def parse_prompt(messages: list[ChatMessage]) -> ParsedPrompt:
    """Read the task, sources and question from the last user message."""
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    heading = _TASK.search(user)
    label = heading.group(1).lower() if heading else "answer"
    task: Task = "answer"
    if "summarize one paper" in label:
        task = "summary"
    elif "summarize a topic" in label:
        task = "topic"
    elif "standalone" in label:
        task = "condense"
    sources = [_parse_source(int(m.group(1)), m.group(2)) for m in _SOURCE.finditer(user)]
    return ParsedPrompt(
        task=task,
        sources=sources,
        question=_section(user, "question"),
        topic=_section(user, "topic"),
        conversation=_section(user, "conversation"),
        follow_up=_section(user, "follow_up"),
    )


def _parse_source(number: int, body: str) -> ParsedSource:
    fields = {name: value.strip() for name, value in _FIELD.findall(body.split("\nText:")[0])}
    text_match = _TEXT.search(body)
    text = text_match.group(1).strip() if text_match else ""
    source = ParsedSource(
        number=number,
        title=fields.get("Title", f"Source {number}"),
        text=text,
        authors=fields.get("Authors", ""),
        year=fields.get("Year", ""),
        arxiv_id=fields.get("arXiv", ""),
    )
    source.sentences = [s for s in sentences(text) if not _INSTRUCTION_LIKE.search(s)]
    source.sentence_terms = [set(terms(s)) for s in source.sentences]
    source.all_terms = set(terms(source.title)).union(*source.sentence_terms)
    return source


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
    year = f" ({source.year})" if source.year and source.year != "unknown" else ""
    authors = source.authors if source.authors and source.authors != "unknown" else ""
    if not authors and not year:
        return source
    sentence = f"{source.title}{year} is by {authors}." if authors else f"{source.title}{year}."
    meta_terms = set(terms(f"{source.title} {authors} {source.year}")) | _META_TERMS
    return ParsedSource(
        number=source.number,
        title=source.title,
        text=source.text,
        authors=source.authors,
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
    """Name-like words of the query (capitalized inside the sentence, acronyms, CamelCase)."""
    found: list[str] = []
    for i, match in enumerate(re.finditer(r"[A-Za-z][\w'’*-]*", query)):
        word = match.group(0).rstrip("'’s")
        inner_caps = any(c.isupper() for c in word[1:])
        if not word[0].isupper() or (i == 0 and not inner_caps):
            continue
        key = word.lower().replace("-", "")
        if key in _NOT_ENTITIES or key in STOPWORDS:
            continue
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
    unseen = [e for e in _entities(query) if not set(terms(e.replace("-", ""))) & seen]
    return _Relevance(scored, len(wanted), unseen)


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


def compose(prompt: ParsedPrompt) -> str:
    """The reply to a parsed prompt."""
    if prompt.task == "condense":
        return condense(prompt.conversation, prompt.follow_up)
    if prompt.task == "summary":
        return summarize(prompt.sources[0]) if prompt.sources else ABSTAIN_SENTENCE
    if prompt.task == "topic":
        return topic_overview(prompt.sources, prompt.topic)
    paragraphs = _select(_score(prompt.sources, prompt.question))
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


# ----------------------------------------------------------------- follow-ups


@dataclass
class _Turn:
    question: str = ""
    answer: str = ""
    papers: list[str] = field(default_factory=list)


def _turns(conversation: str) -> list[_Turn]:
    turns: list[_Turn] = []
    for line in conversation.splitlines():
        if line.startswith("User:"):
            turns.append(_Turn(question=line[5:].strip()))
        elif turns and line.startswith("Assistant:"):
            turns[-1].answer = line[10:].strip()
        elif turns and line.startswith("Papers cited:"):
            names = line[13:].strip()
            if names and names.lower() != "none":
                turns[-1].papers = [n.strip() for n in names.split(";") if n.strip()]
    return turns


def condense(conversation: str, follow_up: str) -> str:
    """Resolve "it", "this paper", "they" ... in `follow_up` from the previous turn."""
    follow_up = " ".join(follow_up.split())
    turns = _turns(conversation)
    if not turns or not follow_up:
        return follow_up
    last = turns[-1]
    names = [short_title(t) for t in last.papers]
    if _SINGULAR_QUESTION.search(last.question):
        names = names[:1]
    content = set(terms(follow_up, drop_generic=True))
    refers = any(
        p.search(follow_up)
        for p in (_SINGULAR_REF, _POSSESSIVE_REF, _PLURAL_REF, _PLURAL_POSSESSIVE, _OTHER_REF)
    )
    if not refers and len(content) >= 2:
        return follow_up
    if names:
        one = names[0]
        several = " and ".join(names[:3]) if len(names) > 1 else one
        text = _SINGULAR_REF.sub(one, follow_up, count=1)
        text = _POSSESSIVE_REF.sub(f"{one}'s", text)
        text = _PLURAL_REF.sub(several, text, count=1)
        text = _PLURAL_POSSESSIVE.sub(f"{several}'s", text)
        if text != follow_up:
            return text
        return f"{follow_up} ({several})"
    topic = last.question.rstrip("?.! ")
    return f"{follow_up.rstrip('?.! ')} (regarding: {topic})?"
