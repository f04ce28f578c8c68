"""The names a paper goes by, and which papers a question names.

A paper is named by its short title ("X-Teaming: ..." -> X-Teaming), an acronym its title
gives in parentheses ("Inference-Time Policy Adapters (IPA)"), or a name its abstract
introduces ("we propose Self-RedTeam, ...", "a new benchmark ...: NORMLENS"). Titles often
do not contain the name people use ("Chasing Moving Targets with Online Self-Play ..." is
Self-RedTeam), so comparisons resolve the sides they name here, over the whole collection
(`NameTable`) or over the sources a model was given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# A verb by which authors introduce what they made; the names right after it are its names.
_INTRODUCE = re.compile(
    r"\b(?:we|this (?:paper|work)|the authors)\s+(?:\w+\s+){0,2}?(?:introduce|present|propose|"
    r"release|construct|develop|build|design|create|curate|call|name|dub|term|contribute)[sd]?"
    r"\b(?P<rest>[^.;]*)",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z][\w'’*-]*")
_PAREN = re.compile(r"\(([A-Za-z][\w-]*)\)")
MAX_INTRODUCED = 2  # names taken from one introducing clause
# Capitalized words that start a question or a clause, never a paper's name on their own.
_FRAME = frozenset(
    """how what which who whom whose why when where is are was were does do did can could
    compare contrast and or vs versus the a an in on of for to between both each""".split()  # noqa: SIM905
)


# Acronyms every paper here uses: never one paper's name.
GENERIC_NAMES = frozenset("ai llm llms lm lms nlp ml gpt rl rlhf sota".split())  # noqa: SIM905


def key(name: str) -> str:
    """The form names are matched in: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def name_like(word: str, *, sentence_start: bool = False) -> bool:
    """A word that reads as a name: a capital inside it (IPA, ClarifyDelphi, Self-RedTeam),
    or a capital first letter where a sentence does not start."""
    core = re.sub(r"['’]s?$", "", word).strip("-*")
    if len(core) < 2 or not core[0].isalpha():
        return False
    if any(c.isupper() for c in core[1:]):
        return True
    return core[0].isupper() and not sentence_start and core.lower() not in _FRAME


def phrases(text: str, *, first_is_start: bool = True) -> list[str]:
    """Runs of name-like words in reading order ("Pluralistic Behavior Suite", "IPA")."""
    runs: list[list[str]] = []
    last_end = -1
    for i, match in enumerate(_TOKEN.finditer(text)):
        word = re.sub(r"['’]s?$", "", match.group(0)).rstrip("-*")
        start = first_is_start and i == 0
        if not name_like(word, sentence_start=start) and not (
            start and word[:1].isupper() and word.lower() not in _FRAME
        ):
            last_end = -1
            continue
        gap = text[last_end : match.start()] if last_end >= 0 else None
        if gap is not None and gap.strip() == "" and runs:
            runs[-1].append(word)
        else:
            runs.append([word])
        last_end = match.end()
    return [" ".join(run) for run in runs]


def spans(phrase: str) -> list[str]:
    """A phrase and its contiguous sub-phrases, longest first ("Compare HAICOSYSTEM" ->
    itself, then "Compare", "HAICOSYSTEM")."""
    parts = phrase.split()
    out = []
    for size in range(len(parts), 0, -1):
        for start in range(len(parts) - size + 1):
            out.append(" ".join(parts[start : start + size]))
    return out


def title_names(title: str) -> list[str]:
    """The short title (before a colon or question mark) and a parenthesized acronym."""
    title = " ".join(title.split())
    found: list[str] = []
    head = re.split(r":\s|[?!]\s", title, maxsplit=1)[0].strip()
    if head and len(head.split()) <= 6:
        found.append(head)
        bare = " ".join(
            _PAREN.sub(lambda m: "" if _acronym(m.group(1)) else m.group(0), head).split()
        )
        if bare != head:
            found.append(bare)
    found.extend(a for a in _PAREN.findall(title) if _acronym(a))
    return found


def _acronym(word: str) -> bool:
    """A parenthesized word that names something (IPA, PBSUITE), not an aside ("nearly")."""
    return any(c.isupper() for c in word[1:])


def introduced_names(abstract: str) -> list[str]:
    """Names the abstract introduces: the first name-like runs after "we introduce/present/
    propose ..." ("we propose Self-RedTeam, an online ..." -> Self-RedTeam)."""
    found: list[str] = []
    for match in _INTRODUCE.finditer(abstract):
        rest = match.group("rest")
        found.extend(phrases(rest, first_is_start=False)[:MAX_INTRODUCED])
        found.extend([a for a in _PAREN.findall(rest) if _acronym(a)][:1])
    return found


def paper_names(title: str, abstract: str, *, introduced: bool = True) -> list[tuple[int, str]]:
    """The name keys a paper goes by, as (table, key): table 0 for its title's names, 1 for
    the names its abstract introduces (`introduced`), which may be a dataset or a model."""
    intro = introduced_names(abstract) if introduced else []
    out: list[tuple[int, str]] = []
    for table, names in ((0, title_names(title)), (1, intro)):
        for name in names:
            k = key(name)
            if len(k) >= 2 and k not in GENERIC_NAMES and (table, k) not in out:
                out.append((table, k))
    return out


@dataclass(frozen=True)
class NameTable:
    """Name key -> the ids of papers going by it; title names win over introduced ones.
    The tables may be dicts or lazy mappings over a store (`assistant.collection_stats`)."""

    by_title: Mapping[str, tuple[str, ...]]
    by_intro: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(cls, papers: Iterable[tuple[str, str, str]], *, introduced: bool = True) -> NameTable:
        """From (paper id, title, abstract) triples (`introduced`: also the names the
        abstracts introduce, which may be a dataset or model rather than the paper)."""
        tables: tuple[dict[str, list[str]], dict[str, list[str]]] = ({}, {})
        for paper_id, title, abstract in papers:
            for table, k in paper_names(title, abstract, introduced=introduced):
                ids = tables[table].setdefault(k, [])
                if paper_id not in ids:
                    ids.append(paper_id)
        by_title, by_intro = ({k: tuple(v) for k, v in t.items()} for t in tables)
        return cls(by_title, by_intro)

    def lookup(self, name: str) -> str | None:
        """The one paper going by `name` (its title first, else its abstract), or None."""
        k = key(name)
        for table in (self.by_title, self.by_intro):
            ids = table.get(k, ())
            if len(ids) == 1:
                return ids[0]
            if ids:
                return None  # several papers go by it: the question does not say which
        return None

    def named(self, question: str) -> list[str]:
        """Ids of the papers the question names, in the order it names them."""
        return [paper_id for paper_id, _ in self.mentions(question)]

    def mentions(self, question: str) -> list[tuple[str, str]]:
        """(paper id, the name used) for each paper the question names, in its order; each
        run of name-like words is tried whole, then its parts (longest first)."""
        found: list[tuple[str, str]] = []
        for phrase in phrases(question):
            covered: list[str] = []
            for span in spans(phrase):
                if any(w in covered for w in span.split()):
                    continue
                paper_id = self.lookup(span)
                if paper_id is not None:
                    covered.extend(span.split())
                    if all(paper_id != f for f, _ in found):
                        found.append((paper_id, span))
        return found
