"""The offline model's follow-up condensation: resolve "it", "they", "this paper"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.chat.offline_prompt import short_title
from assistant.text import terms

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


def condense(history: Sequence[tuple[str, str, list[str]]], follow_up: str) -> str:
    """Resolve "it", "this paper", "they" ... in `follow_up` from the previous turn."""
    follow_up = " ".join(follow_up.split())
    if not history or not follow_up:
        return follow_up
    last_question, _answer, papers = history[-1]
    names = [short_title(t) for t in papers]
    if _SINGULAR_QUESTION.search(last_question):
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
    topic = last_question.rstrip("?.! ")
    return f"{follow_up.rstrip('?.! ')} (regarding: {topic})?"
