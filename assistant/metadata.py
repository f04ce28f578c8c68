"""List and metadata questions, answered from the paper records, complete.

"Which papers were published in 2021?", "papers by Liwei Jiang since 2024", "how many papers
release code?", "who wrote X-Teaming?", "when was WildGuard published?". The filters are
read from the question's words and applied to every record in the index (not to the top k
of a search); author names match exactly (a whole name from the records, not a substring).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from assistant.text import GENERIC, terms, words
from retrieval.models import Paper

Kind = Literal["list", "count", "record"]

_PAPERS = r"(papers?|works?|articles?|publications?|studies|entries|ones)"
_LISTISH = re.compile(
    r"\b(which|what|list|show|name|give|find|any|all|every)\b[^?]*\b" + _PAPERS + r"\b"
    r"|\b(how many|number of|count)\s+(\w+\s+){0,3}?" + _PAPERS + r"\b"
    r"|\b(papers?|works?|publications?)\s+(by|from|with|of|in|since|before|after|between|"
    r"until|during)\b"
    r"|\w['’]s\s+(papers?|works?|articles?|publications?)\b"
    r"|\b(papers?|works?|publications?)\s+(19|20)\d\d\b"
    r"|\bwhat\s+(has|have|did)\b[^?]*\b(written|write|published|publish|authored|author)\b",
    re.IGNORECASE,
)
_ALL = re.compile(r"\b(all|every)\b", re.IGNORECASE)
_COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b", re.IGNORECASE)
_YEAR = r"((?:19|20)\d\d)"
_RANGE = re.compile(rf"\b(?:between|from)\s+{_YEAR}\s+(?:and|to|until|-|–)\s+{_YEAR}\b", re.I)
_DASH_RANGE = re.compile(rf"\b{_YEAR}\s*(?:-|–|to)\s*{_YEAR}\b")
_SINCE = re.compile(
    rf"\b(since|after|in or after|starting in|later than)\s+{_YEAR}\b"
    rf"|\b(from|starting)\s+{_YEAR}\s+(?:on|onwards?|forward|and later|or later)\b"
    rf"|\b(?P<plain>){_YEAR}\s+(?:onwards?|and later|or later)\b",
    re.I,
)
_BEFORE = re.compile(rf"\b(before|until|up to|prior to|earlier than|by)\s+{_YEAR}\b", re.I)
_IN_YEAR = re.compile(rf"\b{_YEAR}\b")
# "in 2024 and 2025": two consecutive years (others are not one range)
_TWO_YEARS = re.compile(rf"\b{_YEAR}\s*(?:,|and|or|&)\s*(?:in\s+)?{_YEAR}\b", re.I)
_CODE = re.compile(
    r"\b(code|source code|open[- ]source[sd]?|github|implementation|repository|repo)\b", re.I
)
_NO_CODE = re.compile(r"\b(without|no|lack(ing)?|not release)\s+(\w+\s+)?code\b", re.I)
_RECORD = re.compile(
    r"^\s*(?:(?:and|so|also)\s+)?(?:"
    r"who\s+(?:wrote|authored|are\s+the\s+authors\s+of|is\s+the\s+(?P<first>first\s+|lead\s+)?author\s+of|"
    r"were\s+the\s+authors\s+of|created|made)"
    r"|(?:what|which)\s+are\s+the\s+authors\s+of|(?:list|name|give)\s+the\s+authors\s+of"
    r"|(?:the\s+)?authors\s+of"
    r"|when\s+was|(?:in\s+)?what\s+year\s+was|which\s+year\s+was"
    r")\s+(?P<ref>.+?)\s*(?:published|released|written|posted|out|come\s+out|appear)?\s*\??\s*$",
    re.IGNORECASE,
)
CATEGORIES = {
    "CL": "computation and language",
    "LG": "machine learning",
    "AI": "artificial intelligence",
    "CY": "computers and society",
    "CR": "cryptography and security",
    "OC": "optimization and control",
    "ML": "machine learning (statistics)",
    "CV": "computer vision",
    "IR": "information retrieval",
    "HC": "human-computer interaction",
}
_CATEGORY = re.compile(r"\b(?:cs|stat|math)\.([A-Z]{2})\b|\bcategor(?:y|ies)\s+([A-Za-z]{2})\b")
# Words of the question that frame a listing and say nothing about its topic.
_FRAME = frozenset(
    terms(
        "which what list show name give find any all every how many number count papers paper "
        "works work articles publications studies entries ones published publish appeared "
        "released come from written wrote authored author authors co-authored coauthored year "
        "years since before after between until collection index indexed there have has code "
        "source github implementation repository repo open-source available release releases "
        "category categories include includes including write writes other else more additional "
        "onward onwards among belong belongs belonging within listed their appear appears "
        "arxiv field area came coming out cover covers covered deal deals dealing discuss "
        "discusses discussed concern concerns concerning talk talks know known tell see seen "
        "mention mentions mentioned look looks exist exists present collected stored saved "
        "library database got get please us me you"
    )
)


class MetadataQuery(BaseModel):
    """The record filters a question asks for (None: not a list or metadata question)."""

    kind: Kind = "list"
    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None
    has_code: bool | None = None
    category: str | None = None
    # For "record" questions: the reference to the one paper asked about, and the field.
    ref: str | None = None
    field: Literal["authors", "first_author", "year"] | None = None
    # Content words that remain once the filters are read ("papers on jailbreaks in 2024").
    topic: list[str] = Field(default_factory=list)
    # The question's own words for `topic` (same order), and those of its words no record
    # has (left out, and said so).
    topic_words: list[str] = Field(default_factory=list)
    ignored: list[str] = Field(default_factory=list)

    def keep_topic(self, kept: Callable[[str], bool]) -> None:
        """Keep the topic terms `kept` accepts; the others' words go to `ignored`."""
        words = self.topic_words or self.topic
        pairs = list(zip(self.topic, words, strict=False))
        self.ignored += [w for t, w in pairs if not kept(t)]
        self.topic = [t for t, _ in pairs if kept(t)]
        self.topic_words = [w for t, w in pairs if kept(t)]

    def criteria(self) -> str:
        """The filters in words: "published in 2021, by Liwei Jiang, with code"."""
        parts: list[str] = []
        if self.year_from is not None and self.year_from == self.year_to:
            parts.append(f"published in {self.year_from}")
        elif self.year_from is not None and self.year_to is not None:
            parts.append(f"published between {self.year_from} and {self.year_to}")
        elif self.year_from is not None:
            parts.append(f"published in or after {self.year_from}")
        elif self.year_to is not None:
            parts.append(f"published in or before {self.year_to}")
        if self.author:
            parts.append(f"with {self.author} among the listed authors")
        if self.has_code is True:
            parts.append("with code released")
        elif self.has_code is False:
            parts.append("without released code")
        if self.category:
            name = CATEGORIES.get(self.category, self.category)
            parts.append(f"in the arXiv category {self.category} ({name})")
        if self.topic:
            parts.append("about " + " ".join(self.topic_words or self.topic))
        return ", ".join(parts)


# Words that frame a question and never start or end an author's name in it.
_NOT_NAME = frozenset(
    "which what who list show name give find any all every how many number count papers "  # noqa: SIM905
    "paper works work articles publications studies entries ones are is were was be been "
    "by from with of in on since before after between until and or the a an published "
    "written wrote authored co-authored coauthored have has there do does did about for "
    "to that me please collection index among author authors code released release year "
    "years their his her other else more also".split()
)
_EDGE = "?!.,;:()[]\"'“”‘’"
MAX_NAME_WORDS = 6
MAX_SPANS = 400  # a very long question: its first runs only

# Given candidate names (lower case), which are some record's author: lower -> as written.
AuthorLookup = Callable[[list[str]], dict[str, str]]


def name_spans(text: str) -> list[str]:
    """Runs of 1-6 words of `text` (lower case) that could be a person's name: no digits,
    no framing word at either end unless capitalized inside the question ("papers by
    Minh Do"), a single word only when capitalized; possessives and slashes are undone
    ("Choi's", "Smith/Jones"), punctuation around a run is dropped (inside it kept, as in
    "J. Smith")."""
    text = re.sub(r"(\w)['’]s\b", r"\1", text.replace("/", " "))
    raw = text.split()
    bare = [w.strip(_EDGE) for w in raw]

    def edge(i: int) -> bool:
        word = bare[i]
        if not word or any(ch.isdigit() for ch in word):
            return False
        return word.lower() not in _NOT_NAME or (i > 0 and word[0].isupper())

    out: list[str] = []
    for i in range(len(raw)):
        if not edge(i):
            continue
        for j in range(i, min(i + MAX_NAME_WORDS, len(raw))):
            if not bare[j] or any(ch.isdigit() for ch in bare[j]):
                break
            if edge(j) and (j > i or bare[i][0].isupper()):  # one word: only a capitalized one
                run = " ".join(raw[i : j + 1]).lower()
                out += [run.strip(_EDGE), run.strip(_EDGE.replace(".", ""))]
    return list(dict.fromkeys(out))[:MAX_SPANS]


def records_lookup(papers: Sequence[Paper]) -> AuthorLookup:
    """An `AuthorLookup` over records in memory."""
    names: dict[str, str] = {}
    for p in papers:
        for a in p.authors:
            names.setdefault(a.strip().lower(), a.strip())
    return lambda wanted: {w: names[w] for w in wanted if w in names}


def parse(question: str, authors: AuthorLookup | Sequence[Paper]) -> MetadataQuery | None:
    """The metadata query in `question`, or None when it is not a list/metadata question.

    `authors` tells which runs of the question's words are an author's whole name (the
    index answers it with one scan of the author column); records are turned into one."""
    text = " ".join(question.split())
    record = _RECORD.match(text)
    if record:
        ref = record.group("ref").strip().strip("\"'“”")
        ref = re.sub(r"^(the\s+)?(paper|work|article)\s+", "", ref, flags=re.IGNORECASE)
        ref = re.sub(r"^the\s+", "", ref, flags=re.IGNORECASE)
        ref = re.sub(r"^arxiv(?:\s*:\s*|\s+)(?=\d)", "", ref, flags=re.IGNORECASE)
        ref = re.sub(r"\s+(paper|work|article)$", "", ref, flags=re.IGNORECASE)
        asks_year = bool(re.match(r"\s*(when|(in\s+)?(what|which)\s+year)\b", text, re.I))
        if ref and not _LISTISH.search(ref):
            field: Literal["authors", "first_author", "year"] = "authors"
            if asks_year:
                field = "year"
            elif record.group("first"):
                field = "first_author"
            return MetadataQuery(kind="record", ref=ref, field=field)
    if not _LISTISH.search(text):
        return None
    query = MetadataQuery(kind="count" if _COUNT.search(text) else "list")
    rest = text
    if m := _RANGE.search(rest) or _DASH_RANGE.search(rest):
        lo, hi = sorted((int(m.group(1)), int(m.group(2))))
        query.year_from, query.year_to = lo, hi
        rest = rest.replace(m.group(0), " ")
    elif m := _SINCE.search(rest):
        year = int(next(g for g in (m.group(2), m.group(4), m.group(6)) if g))
        after = (m.group(1) or "").lower() in ("after", "later than")
        query.year_from = year + 1 if after else year
        rest = rest.replace(m.group(0), " ")
    elif (m := _TWO_YEARS.search(rest)) and abs(int(m.group(1)) - int(m.group(2))) == 1:
        query.year_from, query.year_to = sorted((int(m.group(1)), int(m.group(2))))
        rest = rest.replace(m.group(0), " ")
    elif m := _BEFORE.search(rest):
        year = int(m.group(2))
        lower = m.group(1).lower()
        query.year_to = year - 1 if lower in ("before", "prior to", "earlier than") else year
        rest = rest.replace(m.group(0), " ")
    elif m := _IN_YEAR.search(rest):
        query.year_from = query.year_to = int(m.group(1))
        rest = rest.replace(m.group(0), " ")
    lowered = rest.lower()
    lookup = authors if callable(authors) else records_lookup(authors)
    found = lookup(name_spans(rest))
    for name in sorted(found, key=lambda n: (-len(n), n)):  # a full name beats a part
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", lowered):
            query.author = found[name]
            lowered = lowered.replace(name, " ")
            break
    if _NO_CODE.search(lowered):
        query.has_code = False
    elif _CODE.search(lowered):
        query.has_code = True
    if m := _CATEGORY.search(rest):
        query.category = (m.group(1) or m.group(2)).upper()
        lowered = lowered.replace(m.group(0).lower(), " ")
    else:
        for code, name in CATEGORIES.items():
            if name in lowered and "(" not in name:
                query.category = code
                lowered = lowered.replace(name, " ")
                break
    pairs = [(w, t) for w in words(lowered) for t in terms(w, drop_generic=True)[:1]]
    pairs = [(w, t) for w, t in pairs if t not in _FRAME]
    query.topic = list(dict.fromkeys(t for _, t in pairs))
    query.topic_words = [next(w for w, t2 in pairs if t2 == t) for t in query.topic]
    filters = (query.year_from, query.year_to, query.author, query.has_code, query.category)
    if all(f is None for f in filters):
        if not query.topic and (query.kind == "count" or _ALL.search(text)):
            return query  # "how many papers are there?", "list all papers": the collection
        return None  # a topic-only list ("which papers study X?") is a normal question
    return query


def matches(query: MetadataQuery, paper: Paper) -> bool:
    """True when the record meets every filter of `query` (the topic is not checked here)."""
    if query.year_from is not None and (paper.year is None or paper.year < query.year_from):
        return False
    if query.year_to is not None and (paper.year is None or paper.year > query.year_to):
        return False
    if query.author is not None:
        wanted = query.author.lower()
        if not any(a.strip().lower() == wanted for a in paper.authors):
            return False
    if query.has_code is not None and paper.has_code != query.has_code:
        return False
    return query.category is None or (paper.category or "").upper() == query.category


def on_topic(query: MetadataQuery, paper: Paper) -> bool:
    """True when the record's title and abstract hold the query's topic words (all of two,
    60% of more)."""
    if not query.topic:
        return True
    have = set(terms(f"{paper.title} {paper.abstract}"))
    wanted = [t for t in query.topic if t not in GENERIC]
    return not wanted or sum(t in have for t in wanted) >= math.ceil(0.6 * len(wanted))


def narrow_to_topic(
    query: MetadataQuery,
    batches: Callable[[], Iterable[Sequence[Paper]]],
    known: Callable[[str], bool] | None = None,
    keep: int | None = None,
) -> tuple[int, list[Paper]] | None:
    """(how many, the first `keep`) of the records on the question's topic, reading them
    batch by batch (`batches()` is read again for the second pass).

    A topic word none of the records has is left out (and said so, `ignored`) unless the
    collection has it (`known`): then it narrows the list, to none if need be. None when
    no topic word is left: every record counts."""
    wanted = set(query.topic)
    present: set[str] = set()
    for batch in batches():
        for paper in batch:
            present |= wanted & set(terms(f"{paper.title} {paper.abstract}"))
        if present == wanted:
            break
    query.keep_topic(lambda t: t in present or (known is not None and known(t)))
    if not query.topic:
        return None
    total = 0
    kept: list[Paper] = []
    for batch in batches():
        for paper in batch:
            if on_topic(query, paper):
                total += 1
                if keep is None or len(kept) < keep:
                    kept.append(paper)
    return total, kept


def select(
    query: MetadataQuery, papers: Sequence[Paper], known: Callable[[str], bool] | None = None
) -> list[Paper]:
    """Every record that meets the query, oldest first (ties by date, then paper id), its
    topic read as `narrow_to_topic` does."""
    found = [p for p in papers if matches(query, p)]
    if query.topic:
        narrowed = narrow_to_topic(query, lambda: [found], known)
        found = narrowed[1] if narrowed is not None else found
    return sorted(found, key=lambda p: (p.year or 0, p.date or "", p.paper_id))
