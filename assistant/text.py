"""Small lexical tools: sentence splitting and stemmed content terms (English)."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can could did do does doing don't down
    during each either etc few for from further had has have having he her here hers
    herself him himself his how i if in into is isn't it it's its itself just let me
    more most my myself no nor not now of off on once only or other our ours ourselves
    out over own per same she should so some such than that that's the their theirs them
    themselves then there there's these they this those through thus to too under until
    up upon very via was we were what what's when where which while who whom why will
    with within without would you your yours yourself yourselves tell give explain
    describe say says said please much many one two three get gets got may might must
    shall whether like e.g i.e vs et al
    """.split()  # noqa: SIM905
)

# Question-framing words that say nothing about the topic of a question in this domain.
GENERIC = frozenset(
    """
    paper papers study studies studied studying work works research researcher
    researchers article articles publication publications author authors propose
    proposes proposed approach approaches method methods technique techniques present
    presents introduce introduces new novel recent existing use uses used using show
    shows find finds found discuss discusses address addresses look looking kind kinds
    type types way ways thing things anything something mention mentions mentioned
    corpus collection indexed well take takes took taken part
    """.split()  # noqa: SIM905
)

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
_ABBREVIATIONS = re.compile(
    r"\b(?:e\.g|i\.e|et al|vs|cf|etc|fig|figs|eq|eqs|sec|no|approx|dr|mr|ms|st)\.$", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-case word."""
    return str(_stemmer().stemWord(word))


def words(text: str) -> list[str]:
    """Lower-case words; hyphenated words give their (non-numeric) parts and the joined form."""
    out: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0).lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if "-" in word:
            parts = [p for p in word.split("-") if p]
            # "GPT-4" gives "gpt" and "gpt4": a bare number part says little on its own.
            out.extend(p for p in parts if not p.isdigit())
            out.append("".join(parts))
        else:
            out.append(word)
    return out


def terms(text: str, *, drop_generic: bool = False) -> list[str]:
    """Stemmed terms of `text` without stopwords (and without GENERIC words if asked)."""
    out: list[str] = []
    for word in words(text):
        if word in STOPWORDS or (drop_generic and word in GENERIC):
            continue
        if len(word) < 2 and not word.isdigit():
            continue
        out.append(stem(word))
    return out


def sentences(text: str) -> list[str]:
    """Split prose into sentences (keeps abbreviations such as "e.g." and "et al." intact)."""
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].rstrip()
        if _ABBREVIATIONS.search(candidate):
            continue
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return [p for p in pieces if p]


def idf_table(documents: Iterable[set[str]]) -> tuple[dict[str, float], float]:
    """IDF per term over `documents` and the IDF an unseen term gets (the maximum)."""
    df: dict[str, int] = {}
    n = 0
    for doc in documents:
        n += 1
        for term in doc:
            df[term] = df.get(term, 0) + 1
    table = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
    return table, math.log((n + 1) / 0.5)


def format_authors(authors: Sequence[str], *, truncated: bool = False, limit: int = 3) -> str:
    """`A, B, C et al.`: the first `limit` names, "et al." when more exist or the record
    itself lists only the first authors (`truncated`). The one author formatter."""
    names = [a for a in authors if a]
    shown = ", ".join(names[:limit])
    if shown and (len(names) > limit or truncated):
        shown += " et al."
    return shown


# LaTeX and HTML as they appear in abstracts, turned into plain text for display.
_TEX_STYLE = re.compile(
    r"\\(?:textit|textbf|texttt|textsc|textrm|textsf|emph|mathrm|mathbf|mathit|mathcal|"
    r"text|underline|mbox|url)\s*\{([^{}]*)\}"
)
_TEX_SYMBOLS = {
    r"\times": "×",
    r"\approx": "≈",
    r"\sim": "~",
    r"\leq": "≤",
    r"\geq": "≥",
    r"\le": "≤",
    r"\ge": "≥",
    r"\pm": "±",
    r"\cdot": "·",
    r"\rightarrow": "→",
    r"\to": "→",
    r"\alpha": "α",
    r"\beta": "β",
    r"\gamma": "γ",
    r"\delta": "δ",
    r"\epsilon": "ε",
    r"\lambda": "λ",
    r"\mu": "μ",
    r"\sigma": "σ",
    r"\infty": "∞",
    r"\varepsilon": "ε",
    r"\ell": "ℓ",
    r"\sqrt": "√",
    r"\ldots": "…",
    r"\dots": "…",
}
_TEX_SYMBOL = re.compile(
    "|".join(re.escape(k) + r"(?![A-Za-z])" for k in sorted(_TEX_SYMBOLS, key=len, reverse=True))
)
_TEX_DROP = re.compile(r"\\(?:cite[tp]?|ref|label|footnote)\s*\{[^{}]*\}")
_TEX_ESCAPED = re.compile(r"\\([%&_#$])")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?\s*(?:\{([^{}]*)\})?")
_TEX_MATH = re.compile(r"\$([^$]{0,80})\$")


def clean_text(text: str) -> str:
    """Plain text for display: LaTeX markup decoded or removed, HTML entities unescaped.

    `\\textit{(i)}` -> `(i)`, `50\\%` -> `50%`, `$\\times$` -> `×`, `&lt;` -> `<`. The record
    keeps the original; this is what answers show and quote.
    """
    if "\\" in text or "$" in text:
        text = _TEX_DROP.sub("", text)
        text = re.sub(r"(?<=\w)~(?=\w)", " ", text)  # TeX's non-breaking space
        for _ in range(3):  # nested styles: \textbf{\textit{x}}
            text = _TEX_STYLE.sub(r"\1", text)
        text = _TEX_SYMBOL.sub(lambda m: _TEX_SYMBOLS[m.group(0)], text)
        text = _TEX_ESCAPED.sub(r"\1", text)
        text = _TEX_MATH.sub(lambda m: m.group(1), text)
        text = _TEX_COMMAND.sub(lambda m: m.group(1) or "", text)
        text = re.sub(r"\^\{([^{}]*)\}", r"^\1", text)
        text = re.sub(r"(?<=√)\{([^{}]*)\}", r"\1", text)
    if "&" in text:
        text = html.unescape(text)
    return " ".join(text.split())


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
    return " ".join(title[:80].split()[:-1]).rstrip("…") + "…"
