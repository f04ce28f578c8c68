"""Per-sentence support: is each answer sentence backed by the sources it cites?

The one scorer the product (every `Answer.support`) and the eval harness (docs/evals.md,
"Support") share. The lexical score is the share of a sentence's content words found in a
cited source; with a real model the judge prompt (`prompts/judge.txt`) decides instead.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from assistant.answer import SourceGiven, SupportVerdict

SentenceVerdict = SupportVerdict

if TYPE_CHECKING:
    from assistant.chat.base import ChatModel

# A sentence is "supported" by a source when at least this share of its content words
# (stemmed, stopwords removed) occur in the source text. See docs/evals.md.
SUPPORT_THRESHOLD = 0.6
# Sentences with fewer content words than this are not claims (headings, "In short:").
MIN_CLAIM_WORDS = 3

_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_WORD = re.compile(r"[a-z0-9]+")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "al", "etc", "vs", "cf", "fig", "eq", "no", "dr", "mr", "ms", "approx", "resp"}
)
_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    may might must shall us s t one two paper papers work works study studies source sources
    according say says said per via et al
    """.split()  # noqa: SIM905
)


def parse_markers(text: str) -> list[int]:
    """Citation numbers in order of appearance: `[2]`, `[1, 3]` and `[1][3]`."""
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        numbers.extend(int(n) for n in re.split(r"[,;]", match.group(1)))
    return numbers


class Sentence(BaseModel):
    """An answer sentence: its text without markers and the markers attached to it."""

    text: str
    markers: list[int] = Field(default_factory=list)


def split_sentences(answer: str) -> list[Sentence]:
    """Split an answer into sentences and attach each citation marker to its sentence.

    Splits at line breaks (a list item is one sentence) and after `.`, `!` or `?` followed by
    white space, except after abbreviations such as "e.g." or "et al." and before a
    lower-case letter, a dash or an opening parenthesis (as in "Is It Ok? — The paper ..."
    or "Is It Ok? (2023)"). A piece that is only markers (e.g. "[2]" after a full stop) is
    attached to the previous sentence.
    """
    return [sentence for sentence, _ in sentence_ends(answer)]


def sentence_ends(answer: str) -> list[tuple[Sentence, int]]:
    """`split_sentences` with where each sentence ends in `answer` (after its markers), so a
    shell can mark a sentence in place (the verdicts come in this order)."""
    pieces: list[tuple[str, int]] = []
    offset = 0
    for raw in answer.splitlines(keepends=True):
        line_start, offset = offset, offset + len(raw)
        lead = len(raw) - len(raw.lstrip())
        line = raw.strip()
        if not line:
            continue
        base = line_start + lead
        if re.match(r"[-*•]\s", line):  # a list item is one unit (its title may hold "!")
            pieces.append((line, base + len(line)))
            continue
        start = 0
        for match in re.finditer(r"[.!?][\"')\]]*\s+", line):
            before = line[start : match.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            if last in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last):
                continue
            # "Title? — text" or "... vs. the": the sentence goes on.
            if re.match(r"[a-z—–:;,(-]", line[match.end() : match.end() + 1]):
                continue
            piece = line[start : match.end()].strip()
            pieces.append((piece, base + start + len(line[start : match.end()].rstrip())))
            start = match.end()
        if start < len(line):
            pieces.append((line[start:].strip(), base + len(line)))
    sentences: list[tuple[Sentence, int]] = []
    for piece, end in pieces:
        markers = parse_markers(piece)
        text = _MARKER.sub(" ", piece)
        text = re.sub(r"\s+", " ", text).strip()
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if not re.search(r"[A-Za-z0-9]", text):
            if sentences:
                sentences[-1][0].markers.extend(markers)
                sentences[-1] = (sentences[-1][0], end)
            continue
        sentences.append((Sentence(text=text, markers=markers), end))
    return sentences


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=20000)
def _stem(word: str) -> str:
    stem: str = _stemmer().stemWord(word)  # type: ignore[attr-defined]
    return stem


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words without stopwords and without 1-letter tokens."""
    words = _WORD.findall(text.lower())
    return {_stem(w) for w in words if w not in _STOPWORDS and (len(w) > 1 or w.isdigit())}


def support_score(sentence: str, source_text: str) -> float:
    """Token recall: share of the sentence's content words that occur in the source text."""
    words = content_words(sentence)
    if not words:
        return 0.0
    return len(words & content_words(source_text)) / len(words)


def is_claim(sentence: str) -> bool:
    """A claim has at least MIN_CLAIM_WORDS content words and is not a heading (a line that
    ends with a colon, such as "3 papers in the collection address this:")."""
    return len(content_words(sentence)) >= MIN_CLAIM_WORDS and not sentence.rstrip().endswith(":")


class SentenceSupport(BaseModel):
    """How one claim sentence is supported by its cited sources."""

    text: str
    markers: list[int]
    score: float
    supported: bool


class SupportResult(BaseModel):
    """Support of one answer: claim sentences, and how many are supported."""

    sentences: list[SentenceSupport] = Field(default_factory=list)

    @property
    def n_claims(self) -> int:
        return len(self.sentences)

    @property
    def n_supported(self) -> int:
        return sum(1 for s in self.sentences if s.supported)

    @property
    def n_cited(self) -> int:
        return sum(1 for s in self.sentences if s.markers)

    @property
    def share(self) -> float | None:
        """Supported claim sentences / claim sentences (None when there is no claim)."""
        return self.n_supported / self.n_claims if self.n_claims else None


def answer_support(
    answer: str,
    source_texts: Mapping[int, str],
    *,
    threshold: float = SUPPORT_THRESHOLD,
) -> SupportResult:
    """ALCE-style support with the lexical score: a claim sentence is supported when one of
    the sources its markers name (`source_texts`: number -> text) scores >= `threshold`.

    A claim sentence has at least `MIN_CLAIM_WORDS` content words; a sentence without a valid
    marker is never supported.
    """
    result = SupportResult()
    for sentence in split_sentences(answer):
        if not is_claim(sentence.text):
            continue
        cited = [m for m in dict.fromkeys(sentence.markers) if m in source_texts]
        score = max((support_score(sentence.text, source_texts[m]) for m in cited), default=0.0)
        result.sentences.append(
            SentenceSupport(
                text=sentence.text,
                markers=sentence.markers,
                score=round(score, 6),
                supported=bool(cited) and score >= threshold,
            )
        )
    return result


# --- verdicts in the product ----------------------------------------------------------------

Verdict = Literal["supported", "weak", "unsupported"]
# A lexical score at or above this (but below SUPPORT_THRESHOLD) is "weak" support.
WEAK_THRESHOLD = 0.3
# judge(sentence, texts of the sources it cites) -> True when they support it.
Judge = Callable[[str, list[str]], bool]
_SENTENCE_TAG = re.compile(r"<\s*(/?)\s*sentence\b", re.IGNORECASE)
_ABSTAINS = re.compile(
    r"\b(do(es)?\s+not|don't|doesn't|did\s+not|never)\s+(cover|address|discuss|answer|mention|"
    r"report|say|state|give|provide|describe|specify|include)\b|\bnot\s+covered\b"
    r"|\bno\s+(paper|source|abstract)s?\b[^.]*\b(cover|report|mention|address)",
    re.IGNORECASE,
)

# "The abstracts of X [1] and Y [2] do not report the learning rate.", as the whole answer:
# a title with "!" or "?" inside must not split it into a claim.
_NOT_REPORTED = re.compile(
    r"^the abstracts? of\b[^\n]*\bdo(es)? not (report|mention|say|state|give|describe|"
    r"specify|include)\b[^\n.!?]*[.!?]?$",
    re.IGNORECASE,
)


def source_text(src: SourceGiven) -> str:
    """What a citation can be checked against: the source's metadata and its text."""
    meta = [src.title, ", ".join(src.authors), str(src.year or ""), src.arxiv_id or ""]
    return "\n".join([*(m for m in meta if m), src.text])


def sentence_verdicts(
    answer: str, sources: Sequence[SourceGiven], judge: Judge | None = None
) -> list[SentenceVerdict]:
    """A verdict for every sentence of `answer`: `supported` when a cited source backs it
    (lexical score >= SUPPORT_THRESHOLD, or the judge says so), `weak` when it shares some
    words (>= WEAK_THRESHOLD) or the judge refused a fair overlap, else `unsupported`.

    Sentences that are not claims (fewer than MIN_CLAIM_WORDS content words) are `supported`
    with `claim=False`. A judge that fails falls back to the lexical verdict.
    """
    texts = {s.number: source_text(s) for s in sources}
    out: list[SentenceVerdict] = []
    for sentence in split_sentences(answer):
        cited = [m for m in dict.fromkeys(sentence.markers) if m in texts]
        if not is_claim(sentence.text):
            out.append(
                SentenceVerdict(
                    text=sentence.text, markers=sentence.markers, claim=False, verdict="supported"
                )
            )
            continue
        score = max((support_score(sentence.text, texts[m]) for m in cited), default=0.0)
        verdict: Verdict = "unsupported"
        if cited and score >= SUPPORT_THRESHOLD:
            verdict = "supported"
        elif cited and score >= WEAK_THRESHOLD:
            verdict = "weak"
        judged_by: Literal["lexical", "judge"] = "lexical"
        if judge is not None and cited:
            try:
                ok = judge(sentence.text, [texts[m] for m in cited])
            except Exception:  # a failed judge call keeps the lexical verdict
                pass
            else:
                judged_by = "judge"
                verdict = (
                    "supported" if ok else ("weak" if score >= WEAK_THRESHOLD else "unsupported")
                )
        out.append(
            SentenceVerdict(
                text=sentence.text,
                markers=sentence.markers,
                score=round(score, 6),
                verdict=verdict,
                judged_by=judged_by,
            )
        )
    return out


def is_abstention(answer: str) -> bool:
    """True when every claim of the answer says the papers do not cover or report it.

    "The indexed papers do not cover this." and "The abstracts of X [1] do not report the
    learning rate." both abstain; an answer with any other claim does not.
    """
    if _NOT_REPORTED.match(answer.strip()):  # one line naming the papers checked
        return True
    found = False
    for sentence in split_sentences(answer):
        if _ABSTAINS.search(sentence.text):
            found = True
        elif len(content_words(sentence.text)) >= MIN_CLAIM_WORDS:
            return False
    return found


def _judge_data(text: str) -> str:
    from assistant.prompts import escape_data

    # Data cannot open or close the judge's <source>/<sentence> blocks.
    return _SENTENCE_TAG.sub(lambda m: f"&lt;{m.group(1)}sentence", escape_data(text))


def parse_verdict(text: str) -> bool:
    """True for SUPPORTED, False for NOT_SUPPORTED (or anything unclear)."""
    word = text.strip().upper().replace(" ", "_")
    return word.startswith("SUPPORTED")


def model_judge(model: ChatModel, call: Callable[[Callable[[], str]], str] | None = None) -> Judge:
    """A support judge that asks `model` with `prompts/judge.txt`, one call per sentence.

    Verdicts are cached per (sentence, sources). `call` wraps each request (the eval passes
    its retry); a failure raises (the caller decides: the product falls back to the
    lexical verdict, the eval counts a judge error).
    """
    from assistant.chat.base import ChatMessage, ModelRequest, complete
    from assistant.errors import ModelError
    from assistant.prompts import render

    cache: dict[tuple[str, tuple[str, ...]], bool] = {}
    lock = threading.Lock()

    def judge(sentence: str, sources: list[str]) -> bool:
        if not sources:
            return False
        key = (sentence, tuple(sources))
        with lock:
            if key in cache:
                return cache[key]
        blocks = "\n\n".join(
            f'<source id="{n}">\n{_judge_data(text)}\n</source>'
            for n, text in enumerate(sources, start=1)
        )
        prompt = render("judge", sources=blocks, sentence=_judge_data(sentence))
        messages = [ChatMessage(role="user", content=prompt)]
        request = ModelRequest(
            task="judge",
            question=sentence,
            sources=[
                SourceGiven(number=n, paper_id=f"s{n}", title="", text=text)
                for n, text in enumerate(sources, start=1)
            ],
        )

        def ask() -> str:
            text, finish = complete(model, messages, max_tokens=5, request=request)
            if finish.incomplete and not text.strip():
                raise ModelError("interrupted", finish.error or "the judge's reply was cut")
            return text

        verdict = parse_verdict(call(ask) if call is not None else ask())
        with lock:
            cache[key] = verdict
        return verdict

    return judge
