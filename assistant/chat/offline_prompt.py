"""The offline model's reading: the task, numbered sources and question in its prompt.

Everything comes from the rendered prompt text: the `## Task:` heading, the numbered
`<source>` blocks and the `<question>` / `<topic>` / `<conversation>` / `<follow_up>`
parts. Instruction-like sentences in sources are dropped: they are data, never evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from assistant.chat.base import ChatMessage
from assistant.text import sentences, terms

Task = Literal["answer", "summary", "topic", "condense"]

_TASK = re.compile(r"^#+\s*Task:\s*(.+)$", re.MULTILINE)
_SOURCE = re.compile(r'<source id="(\d+)">\s*\n(.*?)\n\s*</source>', re.DOTALL)
_FIELD = re.compile(r"^(Title|Authors|Year|arXiv):[ \t]*(.*)$", re.MULTILINE)
_TEXT = re.compile(r"^Text:[ \t]*(.*)\Z", re.MULTILINE | re.DOTALL)
_INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|prompt|rule|direction)s?\b"
    r"|\b(reply|respond|answer|output|say)\b.{0,20}\bonly\b"
    r"|\byou (are|must|should) now\b|\bsystem prompt\b|\bas an ai\b",
    re.IGNORECASE,
)


@dataclass
class ParsedSource:
    """One numbered source as read back from the prompt."""

    number: int
    title: str
    text: str
    authors: str = ""
    year: str = ""
    arxiv_id: str = ""
    sentences: list[str] = field(default_factory=list)
    sentence_terms: list[set[str]] = field(default_factory=list)
    all_terms: set[str] = field(default_factory=set)

    @property
    def short_title(self) -> str:
        """A short name for the paper: its title up to the first colon or question mark."""
        return short_title(self.title)


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
    return " ".join(title[:80].split()[:-1]) + "…"


@dataclass
class ParsedPrompt:
    """What the prompt asks for and gives."""

    task: Task
    sources: list[ParsedSource]
    question: str = ""
    topic: str = ""
    conversation: str = ""
    follow_up: str = ""


def _section(text: str, tag: str) -> str:
    matches = re.findall(rf"<{tag}>\s*\n?(.*?)\n?\s*</{tag}>", text, re.DOTALL)
    return matches[-1].strip() if matches else ""


def parse_prompt(messages: list[ChatMessage]) -> ParsedPrompt:
    """Read the task, sources and question from the last user message."""
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    heading = _TASK.search(user)
    label = heading.group(1).lower() if heading else "answer"
    task: Task = "answer"
    if "summarize one paper" in label:
        task = "summary"
    elif "summarize a topic" in label:
        task = "topic"
    elif "standalone" in label:
        task = "condense"
    sources = [_parse_source(int(m.group(1)), m.group(2)) for m in _SOURCE.finditer(user)]
    return ParsedPrompt(
        task=task,
        sources=sources,
        question=_section(user, "question"),
        topic=_section(user, "topic"),
        conversation=_section(user, "conversation"),
        follow_up=_section(user, "follow_up"),
    )


def _parse_source(number: int, body: str) -> ParsedSource:
    fields = {name: value.strip() for name, value in _FIELD.findall(body.split("\nText:")[0])}
    text_match = _TEXT.search(body)
    text = text_match.group(1).strip() if text_match else ""
    source = ParsedSource(
        number=number,
        title=fields.get("Title", f"Source {number}"),
        text=text,
        authors=fields.get("Authors", ""),
        year=fields.get("Year", ""),
        arxiv_id=fields.get("arXiv", ""),
    )
    source.sentences = [s for s in sentences(text) if not _INSTRUCTION_LIKE.search(s)]
    source.sentence_terms = [set(terms(s)) for s in source.sentences]
    source.all_terms = set(terms(source.title)).union(*source.sentence_terms)
    return source
