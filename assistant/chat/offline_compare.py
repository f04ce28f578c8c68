"""The offline model's comparisons: the named papers side by side, each with what it is,
its data and its numbers, from its own sentences.

The sides are the papers the question names, found by short title, title acronym or a name
the abstract introduces (`assistant.names`); the orchestrator puts those papers among the
sources whatever the search ranks, so a comparison is never refused when they are indexed.
"""

from __future__ import annotations

import re

from assistant.chat.offline_answer import (
    MAX_PER_PAPER,
    RESULT,
    cite,
    label,
    quotable,
    short_name,
    third_person,
)
from assistant.chat.offline_prompt import ParsedSource
from assistant.names import NameTable, key
from assistant.questions import entities
from assistant.text import terms

METHOD = re.compile(
    r"\b(we|this paper|this work|our work|the authors)\s+(\w+\s+){0,2}(present|propose|"
    r"introduce|develop|release|build|design|stud|investigat|examin|explor|curat|construct|"
    r"creat|train|formaliz|leverag|cast|conduct|uncover|discover|analy[sz]|evaluat|measur|"
    r"quantif|probe|test|collect|gather|compil)\w*",
    re.IGNORECASE,
)
DATA = re.compile(
    r"\b(data(set)?s?|corpus|corpora|benchmark|samples|examples|annotat\w*|collect\w*|"
    r"languages|dialogues|prompts|pairs|trained on|training|scenarios|simulations|tasks|"
    r"situations|judgments|participants|annotators|users|countries|cultures|policies|"
    r"entries|rules|instances|questions|conversations|documents|images|items|domains)\b",
    re.IGNORECASE,
)
# Where the code or data lives: no part of what a paper is or found.
_LINK = re.compile(
    r"https?://|\bwww\.|\b(code|data|models?|datasets?)\b[^.]{0,40}\b(available|can be found|"
    r"found here|released at|accessible)\b",
    re.IGNORECASE,
)
# A sentence that reports a measured result: a percentage, a ratio, a score with a number.
_MEASURED = re.compile(
    r"\d+(\.\d+)?\s?(%|percent|x\b|×|points?\b|pp\b)|\b(F1|accuracy|AUC|BLEU|ROUGE)\b[^.]*\d",
    re.IGNORECASE,
)


def _named_sources(sources: list[ParsedSource], question: str) -> list[tuple[ParsedSource, str]]:
    """The sources the question names, in the order it names them, with the name used.

    A name is a source's short title, title acronym or a name its abstract introduces
    ("we propose Self-RedTeam"); failing that, a name word its title contains.
    """
    table = NameTable.build((str(s.number), s.title, s.text) for s in sources)
    by_number = {str(s.number): s for s in sources}
    found = [(by_number[n], name) for n, name in table.mentions(question)]
    for name in entities(question):
        name_terms = set(terms(name.replace("-", "")))
        if not name_terms:
            continue
        match = next(
            (s for s in sources if name_terms <= set(terms(s.short_title.replace("-", "")))),
            None,
        ) or next((s for s in sources if name_terms <= set(terms(s.title.replace("-", "")))), None)
        if match is not None and all(match is not s for s, _ in found):
            found.append((match, name))
    return found


def _side_label(source: ParsedSource, name: str) -> str:
    """`WildGuard (2024)`, or `Self-RedTeam (Chasing Moving Targets…, 2025)` when the name
    the question used is not in the short title."""
    if key(name) in key(source.short_title):
        return label(source)
    year = f", {source.year}" if source.year else ""
    return f"{name} ({source.short_title}{year})"


def _side(source: ParsedSource, focus: set[str], name: str = "") -> list[int]:
    """What the paper is, its data and its numbers (and the sentence on the asked aspect).

    Background (others' work, what falls short) and where the code lives are quoted only
    when the abstract has nothing else.
    """
    sents = source.sentences
    picks: list[int] = []
    # background, unless it says what this paper does ("Quark outperforms ... (X et al.)")
    mine = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE) if name else None
    own = [
        i
        for i in range(len(sents))
        if not _LINK.search(sents[i])
        and quotable(sents[i])
        and (
            not (i < len(source.background) and source.background[i])
            or (mine is not None and mine.search(sents[i]) is not None)
        )
    ]

    def first(pattern: re.Pattern[str]) -> int | None:
        return next((i for i in own if i not in picks and pattern.search(sents[i])), None)

    counted_data = re.compile(rf"(?=.*\d)(?=.*{DATA.pattern})", re.IGNORECASE)
    counted_result = re.compile(rf"(?=.*\d)(?=.*{RESULT.pattern})", re.IGNORECASE)
    for pattern in (METHOD, counted_data):  # what it is, its data
        index = first(pattern)
        if index is not None:
            picks.append(index)
    # its numbers: a measured result (a percentage, a ratio, a score) before any count
    index = first(_MEASURED)
    index = first(counted_result) if index is None else index
    index = first(RESULT) if index is None else index
    if index is not None:
        picks.append(index)
    if focus and len(picks) < MAX_PER_PAPER:  # the aspect the question asks about
        scored = sorted(
            ((len(focus & source.sentence_terms[i]), i) for i in own),
            key=lambda si: (-si[0], si[1]),
        )
        if scored and scored[0][0] > 0 and scored[0][1] not in picks:
            picks.append(scored[0][1])
    rest = own + [i for i in range(len(sents)) if i not in own and not _LINK.search(sents[i])]
    for i in rest:
        if len(picks) >= 2:
            break
        if i not in picks:
            picks.append(i)
    return picks[:MAX_PER_PAPER]  # what it is, its data, its numbers: in that order


def compare(sources: list[ParsedSource], question: str) -> str | None:
    """The named papers side by side, or None when fewer than two are among the sources."""
    named = _named_sources(sources, question)
    if len(named) < 2:
        return None
    name_terms = set().union(*(set(terms(f"{s.title} {n}")) for s, n in named))
    focus = set(terms(question, drop_generic=True)) - name_terms
    focus -= set(terms("compare comparison differ difference versus contrast unlike similar both"))
    refs = [f"{_refshort_name(s, n)} [{s.number}]" for s, n in named]
    joined = ", ".join(refs[:-1]) + " and " + refs[-1]
    parts = [f"Comparing {joined} side by side, from their abstracts:"]
    for source, name in named:
        picks = _side(source, focus, name)
        body = " ".join(cite(third_person(source.sentences[i], name), source.number) for i in picks)
        parts.append(f"{_side_label(source, name)}: {body}")
    return "\n\n".join(parts)


def _refshort_name(source: ParsedSource, name: str) -> str:
    """The name to cite a side by: its short title, or the name the question used."""
    return short_name(source) if key(name) in key(source.short_title) else name
