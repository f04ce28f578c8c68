"""What a question asks, read from its words: comparisons and the names it mentions.

Shared by the orchestrator (which papers to fetch) and the offline model (how to answer).
"""

from __future__ import annotations

import re

from assistant.text import STOPWORDS

_COMPARISON = re.compile(
    r"\b(compare[sd]?|comparing|comparison|differ(s|ent|ence|ences)?|distinguish(es)?|"
    r"versus|vs\.?|contrast(s|ed|ing)?|unlike|similarit(y|ies)|similar to|both)\b",
    re.IGNORECASE,
)
# Capitalized words that are not names of anything specific in this domain.
_NOT_ENTITIES = frozenset(
    [
        "ai",
        "llm",
        "llms",
        "lm",
        "lms",
        "nlp",
        "ml",
        "gpt",
        "i",
        "which",
        "what",
        "how",
        "who",
        "compare",
        "contrast",
        "and",
        "both",
    ]
)


def is_comparison(question: str) -> bool:
    """True for "compare X and Y", "how does X differ from Y", "X vs Y", "both X and Y"..."""
    return bool(_COMPARISON.search(question))


def entities(question: str) -> list[str]:
    """Name-like words of the question: capitalized inside the sentence, acronyms, CamelCase.

    Hyphenated words count when a part is name-like ("X-Teaming", "GPT2-XL"), not when
    the only capitals are a generic acronym ("LLM-generated").
    """
    found: list[str] = []
    for i, match in enumerate(re.finditer(r"(?<![\w.])[A-Za-z][\w'’*-]*", question)):
        word = re.sub(r"['’]s?$", "", match.group(0)).rstrip("-")
        if len(word) < 2:
            continue
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
