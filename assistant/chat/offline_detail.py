"""The specific details a question asks for, and which sentences carry them.

"Which crowdsourcing platform recruited ...?" asks for a platform; "how much were they
paid?" and "to what level does X cut ...?" ask for an amount. A sentence that is only about
the topic ("a large-scale crowdsourced user study") does not answer them: the offline model
quotes only sentences that carry the detail, and otherwise says what the papers do not report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import GENERIC, STOPWORDS, terms

# Nouns that ask for an amount: the answer is a number, not the word.
_AMOUNT_NOUNS = frozenset(
    """level levels extent degree amount amounts number numbers percentage percentages
    percent proportion fraction share size magnitude ratio margin score scores rate rates
    accuracy""".split()  # noqa: SIM905
)
# Words that end the noun phrase after "which"/"what": verbs, auxiliaries, prepositions.
_NP_END = frozenset(
    """is are was were be been being do does did has have had can could would will should
    may might must of for in on to with by from at and or that which who as about into
    than they them it its their he she we you i a an the""".split()  # noqa: SIM905
)
_WH = re.compile(
    r"\b(?:which|what)\s+(?:(?:is|was|are|were)\s+the\s+)?(?P<np>[^?,;:()]*)"
    r"|\bhow\s+(?:many|much)\b(?P<amount>[^?,;:()]*)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")
# "What moderation tools have been proposed?" asks for papers, like "which papers".
_KINDS = frozenset(
    """tools benchmarks datasets models methods approaches systems frameworks classifiers
    techniques algorithms resources corpora agents metrics suites""".split()  # noqa: SIM905
)
MAX_NP_WORDS = 4
_DEFINITE = re.compile(r"(?i)(which|what)\s+(is|was|are|were)\s+the\s")


def _is_name(word: str) -> bool:
    """A capitalized or mixed-case word (Delphi, NORMLENS, X-Teaming): a name, not a noun."""
    return any(c.isupper() for c in word)


@dataclass(frozen=True)
class Detail:
    """One asked detail: a sentence carries it when it has one of `terms` (if any) and, for
    an amount, a number. `phrase` names it in "do not report ..."."""

    terms: frozenset[str]
    number: bool
    phrase: str

    def carried_by(self, sentence: str, sentence_terms: set[str]) -> bool:
        """True when the sentence has what is asked."""
        if self.terms and not self.terms & sentence_terms:
            return False
        return not self.number or bool(_NUMBER.search(sentence))


def _indirect(question: str) -> str:
    """ "how much were they paid" -> "how much they were paid" (reads after "report")."""
    match = re.match(r"(?i)(how (?:much|many)) (is|are|was|were|do|does|did) (\w+) (.+)", question)
    if not match:
        return question
    how, aux, subject, rest = match.groups()
    verb = f"{aux} {rest}" if aux.lower() in ("is", "are", "was", "were") else rest
    return f"{how} {subject} {verb}"


def _noun_phrase(text: str) -> list[str]:
    """The words after "which"/"what" up to the first verb, auxiliary or preposition."""
    out: list[str] = []
    for word in re.findall(r"[A-Za-z][\w'’-]*", text):
        lower = word.lower()
        if lower in _NP_END or (out and lower.endswith("ed")) or len(out) >= MAX_NP_WORDS:
            break
        out.append(word)
        if lower in GENERIC:  # "which work trains ...": a paper is asked for, not a detail
            break
    return out


def details(question: str) -> list[Detail]:
    """The details the question asks for, in its order (none for "what is X?", "which
    papers ...?" and other frames that ask for a paper or an explanation)."""
    found: list[Detail] = []
    for match in _WH.finditer(question):
        if match.group("amount") is not None:
            rest = _noun_phrase(match.group("amount"))
            noun = rest[-1] if rest and rest[-1].lower() not in STOPWORDS else ""
            wanted = frozenset(terms(noun, drop_generic=True)) if noun else frozenset()
            how = _indirect(" ".join(match.group(0).split()).rstrip(" ."))
            if wanted and match.group(0).lower().split()[1] == "many":
                found.append(Detail(wanted, True, f"the number of {noun}"))
            else:  # "how much were they paid": a number said of paying, not any number
                verbs = frozenset(terms(match.group("amount"), drop_generic=True))
                found.append(Detail(verbs, True, how))
            continue
        np = _noun_phrase(match.group("np") or "")
        if not np:
            continue
        head = np[-1].lower()
        if head in _AMOUNT_NOUNS:  # "what average F1 score": a number said of F1
            said_of = frozenset(terms(" ".join(np[:-1]), drop_generic=True))
            found.append(Detail(said_of, True, "the " + " ".join(np)))
            continue
        if head in GENERIC or head in _KINDS or not terms(head, drop_generic=True):
            continue
        if _DEFINITE.match(match.group(0)) and any(_is_name(w) for w in np):
            continue  # "what is the Delphi experiment?": a named thing to explain, not a detail
        found.append(
            Detail(frozenset(terms(head, drop_generic=True)), False, "the " + " ".join(np))
        )
    return found
