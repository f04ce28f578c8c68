"""The offline model's reading: the turn's `ModelRequest` (task, numbered sources, question).

The offline model never reads the rendered prompt: the orchestrator hands it the same
sources as data, so rewording a template cannot change what it does. Instruction-like
sentences in sources are dropped: they are data, never evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answer import SourceGiven
from assistant.citations import MARKER
from assistant.text import clean_text, sentences, short_title, terms

_INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|prompt|rule|direction)s?\b"
    r"|\b(reply|respond|answer|output|say)\b.{0,20}\bonly\b"
    r"|\byou (are|must|should) now\b|\bsystem prompt\b|\bas an ai\b",
    re.IGNORECASE,
)


# A sentence about others' work or what falls short, not what this paper contributes.
_BACKGROUND = re.compile(
    r"\b(existing|prior (work|art|studies|methods|approaches)|previous(ly)?|"
    r"current (\w+ ){0,2}(systems|methods|approaches|models|tools|work)|"
    r"falls? short|lags? (far )?behind|hinder(s|ed)?|struggles?|lacks?|"
    r"(has|have) (long )?been|remains? (an? )?(open|challeng|unclear|difficult|elusive)|"
    r"et al\b|raising concerns|it is (crucial|critical|important))",
    re.IGNORECASE,
)
# ... unless the authors say what they do in it ("we show that existing ... fall short").
CONTRIBUTION = re.compile(
    r"\b(we|this paper|this work|our work|the authors)\s+(\w+\s+){0,2}(present|propose|"
    r"introduce|develop|release|build|design|stud|investigat|examin|explor|curat|construct|"
    r"creat|train|formaliz|leverag|cast|conduct|apply|applied|define|offer|contribut|show|find|"
    r"found|demonstrat|argu|reveal)\w*",
    re.IGNORECASE,
)


def is_background(sentence: str) -> bool:
    """True for a sentence on others' work or a shortcoming, not the paper's contribution."""
    return bool(_BACKGROUND.search(sentence)) and not CONTRIBUTION.search(sentence)


@dataclass
class ParsedSource:
    """One numbered source as the offline model reads it (clean text, split in sentences)."""

    number: int
    title: str
    text: str
    authors: list[str] = field(default_factory=list)
    authors_truncated: bool = False
    year: int | None = None
    arxiv_id: str | None = None
    has_code: bool = False
    category: str | None = None
    sentences: list[str] = field(default_factory=list)
    sentence_terms: list[set[str]] = field(default_factory=list)
    all_terms: set[str] = field(default_factory=set)
    # the title's and each sentence's terms in reading order (for phrase matches)
    title_seq: list[str] = field(default_factory=list)
    sentence_seqs: list[list[str]] = field(default_factory=list)
    # per sentence: about others' work or a shortcoming (see `is_background`)
    background: list[bool] = field(default_factory=list)
    meta_first: bool = False  # sentence 0 was made from the header (who wrote it, when)

    @property
    def short_title(self) -> str:
        """A short name for the paper: its title up to the first colon or question mark."""
        return short_title(self.title)


def read_source(source: SourceGiven) -> ParsedSource:
    """A given source as the offline model reads it."""
    # Bracketed numbers in the data are not citations: "[9]" reads as "(9)".
    text = MARKER.sub(lambda m: f"({m.group(1)})", clean_text(source.text))
    parsed = ParsedSource(
        number=source.number,
        title=clean_text(source.title),
        text=text,
        authors=list(source.authors),
        authors_truncated=source.authors_truncated,
        year=source.year,
        arxiv_id=source.arxiv_id,
        has_code=source.has_code,
        category=source.category,
    )
    parsed.sentences = [s for s in sentences(text) if not _INSTRUCTION_LIKE.search(s)]
    parsed.sentence_seqs = [terms(s) for s in parsed.sentences]
    parsed.sentence_terms = [set(seq) for seq in parsed.sentence_seqs]
    parsed.background = [is_background(s) for s in parsed.sentences]
    parsed.title_seq = terms(parsed.title)
    parsed.all_terms = set(parsed.title_seq).union(*parsed.sentence_terms)
    return parsed
