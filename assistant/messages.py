"""Chat messages as sent to a model: the one type the prompt builder and the models share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from assistant.answer import SourceGiven
from assistant.metadata import MetadataQuery

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One chat message as sent to the model."""

    role: Role
    content: str


TaskName = Literal["answer", "summary", "topic_summary", "condense", "judge"]


class Listing(BaseModel):
    """A list or metadata question answered from the records: the filters and how many
    records meet them (all of them are the numbered sources, unless the budget cut some)."""

    query: MetadataQuery
    total: int


class ModelRequest(BaseModel):
    """What a turn asks of the model, as data, alongside the rendered messages.

    Real models read the messages; the offline model reads this (never the prompt's prose),
    so rewording a prompt template cannot change what it does.
    """

    task: TaskName
    question: str = ""
    # The numbered sources exactly as given in the prompt (after the token budget).
    sources: list[SourceGiven] = Field(default_factory=list)
    # Earlier turns, oldest first: (standalone question, answer text, cited titles).
    history: list[tuple[str, str, list[str]]] = Field(default_factory=list)
    # Set when the question is a list/metadata question answered from the records.
    listing: Listing | None = None
    # IDF over the whole collection of each of the question's stemmed content terms: how
    # much a word says about the topic (the offline model's relevance weights).
    term_weights: dict[str, float] = Field(default_factory=dict)
