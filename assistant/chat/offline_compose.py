"""The offline model's writing: it reads the `ModelRequest` and dispatches by task.

Answers are evidence answers (`offline_answer`), list and metadata questions are answered
from the records (`offline_listing`), summaries and topic overviews quote the sources'
own sentences, each followed by the number of the source it came from.
"""

from __future__ import annotations

import re

from assistant.chat.offline_answer import RESULT, cite, lead, paragraph, third_person
from assistant.chat.offline_answer import answer as evidence_answer
from assistant.chat.offline_compare import compare
from assistant.chat.offline_condense import condense
from assistant.chat.offline_listing import listing_answer
from assistant.chat.offline_prompt import ParsedSource, read_source
from assistant.chat.offline_score import MIN_COVERAGE, MIN_SENTENCE, score_sources
from assistant.messages import ModelRequest
from assistant.prompts import ABSTAIN_SENTENCE
from assistant.questions import is_comparison
from assistant.text import terms

JUDGE_SUPPORT = 0.6  # share of a sentence's content terms a source must have (judge task)
MAX_TOPIC_PAPERS = 5
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


def compose(request: ModelRequest) -> str:
    """The reply to a request (the turn as data; the prompt's prose is never read)."""
    if request.task == "condense":
        return condense(request.history, request.question)
    if request.task == "judge":
        return judge(request)
    sources = [read_source(s) for s in request.sources]
    if request.task == "summary":
        return summarize(sources[0]) if sources else ABSTAIN_SENTENCE
    if request.task == "topic_summary":
        return topic_overview(sources, request.question)
    if request.listing is not None:
        return listing_answer(sources, request.listing)
    if is_comparison(request.question):
        compared = compare(sources, request.question)
        if compared:
            return compared
    return evidence_answer(sources, request.question, request.term_weights)


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
        result = first(RESULT, start)
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
    body = " ".join(
        cite(third_person(sents[i], source.short_title), source.number) for i in sorted(picked[:5])
    )
    return f"{source.title} [{source.number}]\n\n{body}"


def topic_overview(sources: list[ParsedSource], topic: str) -> str:
    """One or two sentences per paper about `topic`, grouped by paper, or an abstention."""
    relevance = score_sources(sources, topic)
    if not relevance.supported():
        return ABSTAIN_SENTENCE
    best = relevance.scored[0].coverage
    best_sentence = max(
        (score for item in relevance.scored for score, _ in item.ranked), default=0.0
    )
    floor = max(MIN_SENTENCE, 0.5 * best_sentence)
    paragraphs: list[str] = []
    for item in relevance.scored:
        if item.coverage < max(MIN_COVERAGE, 0.4 * best) or len(paragraphs) >= MAX_TOPIC_PAPERS:
            break
        picks = [i for score, i in item.ranked if score >= floor][:2]
        if picks:
            paragraphs.append(paragraph(item.source, picks))
    if not paragraphs:
        return ABSTAIN_SENTENCE
    return "\n\n".join([lead(len(paragraphs)), *paragraphs])


def judge(request: ModelRequest) -> str:
    """SUPPORTED when one source covers most of the sentence's content words (lexical)."""
    wanted = set(terms(request.question))
    if not wanted:
        return "NOT_SUPPORTED"
    best = max(
        (len(wanted & set(terms(f"{s.title} {s.text}"))) / len(wanted) for s in request.sources),
        default=0.0,
    )
    return "SUPPORTED" if best >= JUDGE_SUPPORT else "NOT_SUPPORTED"
