"""The offline model's follow-up condensation: a standalone question a person would type.

Resolves pronouns ("it", "its", "they", "this paper"), ellipsis ("and which of them ...?",
"what about its limitations?", "and WildGuard?", "and in 2023?") and author follow-ups
("what else did they write?") from the previous turn. A follow-up that stands on its own
is returned as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.questions import entities
from assistant.text import short_title, terms

_LEADING = re.compile(r"^(and|so|also|ok(ay)?|then|but|now|right|well)\b[,\s]*", re.IGNORECASE)
_OF_THEM = re.compile(
    r"\b(of|among|from)\s+(them|these|those|the above|these papers|those papers)\b", re.I
)
_SINGULAR_REF = re.compile(
    r"\b(this|that|the)\s+(paper|work|study|approach|method|framework|model|dataset|"
    r"benchmark|system|article|tool)\b|\b(it)\b",
    re.IGNORECASE,
)
_POSSESSIVE_REF = re.compile(r"\bits\b", re.IGNORECASE)
_PLURAL_REF = re.compile(
    r"\b(these|those|the)\s+(papers|works|studies|approaches|methods)\b|\b(they|them)\b",
    re.IGNORECASE,
)
_PLURAL_POSSESSIVE = re.compile(r"\btheir\b", re.IGNORECASE)
_PERSON_REF = re.compile(r"\b(they|them|he|she|him|her|these authors|those authors)\b", re.I)
_WHAT_ABOUT = re.compile(r"^(what|how)\s+about\s+(?P<rest>.+?)\??$", re.IGNORECASE)
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_LIST_QUESTION = re.compile(
    r"^(which|what)\s+(papers?|works?|studies|articles|publications)\s+(?P<rest>.+?)\??$", re.I
)
# The count line of a list answered from the records (`offline_listing`): its filters.
_LISTED = re.compile(
    r"^The collection has [\d,]+ papers? (?P<criteria>(?:published|with|without|in the arXiv|"
    r"about)\b[^:(\n]*?)\s*(?:\(|:|\.)"
)
_WHO_WROTE = re.compile(r"\b(who|authors?)\b", re.IGNORECASE)
_BY = re.compile(
    r"\b(?:is by|author of [^\n]+? is) (?P<names>.+?)(?:\s+et al\.|;|\s*\[|\.(?:\s|$)|$)",
    re.IGNORECASE,
)
# Follow-ups that ask about an aspect of the last subject ("Who are the authors?").
_ASPECT = re.compile(
    r"\b(authors?|year|published|limitations?|results?|findings?|dataset|data|code|method|"
    r"evaluation|benchmark|contributions?|languages?|accuracy|performance|baselines?)\b",
    re.IGNORECASE,
)
# A previous question after one thing: its first cited paper is what "it" refers to.
_SINGULAR_QUESTION = re.compile(
    r"^\s*(which|what)\s+(\w+\s+)?(work|paper|model|method|system|framework|benchmark|"
    r"dataset|study|algorithm|tool|approach|technique)\b|^\s*is there\b|^\s*what is\b",
    re.IGNORECASE,
)


def _question(text: str) -> str:
    text = text.strip().rstrip("?.! ").strip()
    return (text[:1].upper() + text[1:] + "?") if text else text


def _subject(last_question: str, papers: list[str]) -> list[str]:
    """What the last turn was about: the names it asked about, else the papers it cited."""
    named = [e for e in entities(last_question) if not _YEAR.fullmatch(e)]
    if named:
        return named
    names = [short_title(t) for t in papers]
    if _SINGULAR_QUESTION.search(last_question):
        return names[:1]
    return names[:3]


_FILLER = frozenset({"too", "also", "then", "as", "well", "again", "and", "or"})


def _leftover_words(body: str, names: list[str]) -> list[str]:
    """The body's words once its names are taken out, filler ("too", "as well") aside."""
    text = body
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    return [w for w in re.findall(r"\w+", text.lower()) if w not in _FILLER]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def condense(history: Sequence[tuple[str, str, list[str]]], follow_up: str) -> str:
    """Rewrite `follow_up` as a standalone question from the previous turn."""
    follow_up = " ".join(follow_up.split())
    if not history or not follow_up:
        return follow_up
    last_question, last_answer, papers = history[-1]
    body = _LEADING.sub("", follow_up).strip()
    names = entities(body)
    content = set(terms(body, drop_generic=True))
    name_terms = set().union(*(set(terms(n)) for n in names)) if names else set()
    about = _WHAT_ABOUT.match(body)
    # "and WildGuard?": nothing but the name; "What is WildGuard?" is a question of its own.
    bare_name = bool(names) and content <= name_terms and not _leftover_words(body, names)
    # "it"/"they"/"this paper" point back even when another name is given ("What does it
    # report on TruthfulQA?"); a possessive next to a name is that name's ("SODA ... its").
    points_back = any(p.search(body) for p in (_SINGULAR_REF, _PLURAL_REF, _OF_THEM))
    if not about and not bare_name and not points_back and (names or len(content) >= 2):
        return follow_up  # it stands on its own
    subject = _subject(last_question, papers)
    listed = _LIST_QUESTION.match(last_question.strip())

    # "which of them release code?" after a list answered from the records: its filters
    records = _LISTED.match(last_answer)
    if _OF_THEM.search(body) and records:
        phrase = f"the papers {records.group('criteria').rstrip(', ')}"
        return _question(_OF_THEM.sub(f"of {phrase}", body, count=1))

    # "and which of them releases a dataset?" after "Which papers study X?"
    if _OF_THEM.search(body) and listed:
        rest = listed.group("rest")
        phrase = f"the papers that {rest}"
        return _question(_OF_THEM.sub(f"of {phrase}", body, count=1))

    # "what else did they write?" after "Who wrote X?"
    by = _BY.search(last_answer)
    if _WHO_WROTE.search(last_question) and by and _PERSON_REF.search(body):
        first_author = by.group("names").split(",")[0].strip()
        return _question(_PERSON_REF.sub(first_author, body, count=1))

    # "and in 2023?" / "what about 2022?": the last question with the year replaced.
    year = _YEAR.search(body)
    if year and _YEAR.search(last_question) and len(content - {year.group(0)}) <= 1:
        return _question(_YEAR.sub(year.group(0), last_question.rstrip("?"), count=1))

    # "what about WildGuard?" / "and SafetyAnalyst?": the last question about the new name.
    rest = about.group("rest") if about else (_join(names) if bare_name else "")
    if rest and entities(f"about {rest}") and subject and not _ASPECT.search(rest):
        old = subject[0]
        if old.lower() in last_question.lower():
            swapped = re.sub(re.escape(old), rest, last_question, count=1, flags=re.IGNORECASE)
            return _question(swapped)
    if about and subject:  # "what about its limitations?"
        aspect = _POSSESSIVE_REF.sub("", about.group("rest")).strip()
        aspect = re.sub(r"^(the|their)\s+", "", aspect, flags=re.IGNORECASE)
        return _question(f"What are the {aspect} of {_join(subject)}")

    if subject:
        one, several = subject[0], _join(subject)
        text = _SINGULAR_REF.sub(one, body, count=1)
        text = _POSSESSIVE_REF.sub(f"{one}'s", text)
        text = _PLURAL_REF.sub(several, text, count=1)
        text = _PLURAL_POSSESSIVE.sub(f"{several}'s", text)
        if text != body:
            return _question(text)
        if _ASPECT.search(body):  # "Who are the authors?" -> "... of PolyGuard?"
            return _question(f"{body.rstrip('?')} of {several}")
        return _question(f"{body.rstrip('?')} about {several}")
    return follow_up
