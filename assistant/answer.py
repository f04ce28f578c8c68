"""The answer object: what one grounded turn produced (shared by CLI, TUI and evals)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """A marker in the answer that names a source that was given."""

    marker: int
    paper_id: str
    title: str


class SourceGiven(BaseModel):
    """A paper as a source: a candidate (number 0) until the budget numbers it `[n]`.

    The one source record from search to prompt to answer: `text` is what the model is
    given (the abstract as clean text, possibly truncated by the budget); the metadata
    fields let list and "who wrote" questions be answered from the record.
    """

    number: int = 0
    paper_id: str
    title: str
    arxiv_id: str | None = None
    year: int | None = None
    authors: list[str] = Field(default_factory=list)
    authors_truncated: bool = False
    category: str | None = None
    has_code: bool = False
    text: str
    score: float | None = None


class Usage(BaseModel):
    """Token counts reported by the model (or counted with tiktoken offline)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    # True when some count is a local cl100k estimate (the server reported no usage).
    estimated: bool = False


class SupportVerdict(BaseModel):
    """One answer sentence with its support verdict (see `assistant.support`)."""

    text: str
    markers: list[int] = Field(default_factory=list)
    claim: bool = True
    score: float = 0.0
    verdict: Literal["supported", "weak", "unsupported"]
    judged_by: Literal["lexical", "judge"] = "lexical"


class Answer(BaseModel):
    """One grounded answer; `invalid_citations` are markers that name no given source."""

    kind: str = "answer"  # "answer" | "summary" | "topic_summary"
    question: str
    standalone_query: str | None = None
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    invalid_citations: list[int] = Field(default_factory=list)
    # Valid markers whose source shares few words with the cited sentence (a lexical check).
    unsupported_citations: list[int] = Field(default_factory=list)
    sources: list[SourceGiven] = Field(default_factory=list)
    model: str
    usage: Usage = Field(default_factory=Usage)
    # retrieve, prompt, first_token, total (milliseconds)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    finish_reason: str | None = None
    # True when the stream was cut or cancelled before the model finished.
    incomplete: bool = False
    abstained: bool = False
    conversation_id: str | None = None
    turn_id: int | None = None
    error: str | None = None
    # "extractive": quoted from the sources (the offline model); "generative": a model wrote it.
    answer_mode: Literal["extractive", "generative"] = "generative"
    # A verdict for every sentence of `answer`, from the scorer the eval uses.
    support: list[SupportVerdict] = Field(default_factory=list)
