"""Plain helpers behind the app's commands: text for notices, export paths, clipboard text,
and error hints worded for the chat UI."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.answer import Answer
    from retrieval.models import Paper, SearchHit

MAX_LISTED = 40


def model_names(current: str | None = None, served: Sequence[str] = ()) -> list[str]:
    """Model names for `/model`: the endpoint's, offline and its misbehaviours, the current."""
    from assistant.chat.registry import MISBEHAVIOURS

    endpoint = [n for n in served if n.split(":", 1)[0] != "offline"]
    names = list(dict.fromkeys([*endpoint, "offline", *(f"offline:{n}" for n in MISBEHAVIOURS)]))
    if current and current not in names:
        names.insert(0, current)
    return names


def _md(text: str) -> str:
    """Escape the characters that would turn a title into Markdown markup."""
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def break_id(paper_id: str, width: int) -> list[str]:
    """`paper_id` in lines of at most `width` cells, broken only after a `-` (a part longer
    than a line is folded, the one case where a word must be cut)."""
    width = max(4, width)
    lines: list[str] = []
    line = ""
    for part in re.findall(r"[^-]+-?|-", paper_id):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        while len(part) > width:
            lines.append(part[:width])
            part = part[width:]
        line += part
    return [*lines, line] if line or not lines else lines


def paper_option(paper: Paper, width: int) -> str:
    """A paper in a pick list: title and year, then the whole id (broken after hyphens)."""
    ids = (f"  {line}" for line in break_id(paper.paper_id, width - 2))
    return "\n".join([f"{paper.title} ({paper.year or 'n.d.'})", *ids])


_YEARS = re.compile(r"^(\d{4})(?:\s*[-–]\s*(\d{4}))?$")


@dataclass
class PaperFilter:
    """`/papers` filter: free words, a year or a range, `by:<author>`."""

    words: list[str]
    year_from: int | None = None
    year_to: int | None = None
    author: str = ""

    @classmethod
    def parse(cls, text: str) -> PaperFilter:
        """`2021`, `2020-2022`, `by:smith` (or `author:smith`) and free words, in any order."""
        words: list[str] = []
        result = cls(words)
        for token in re.findall(r"\d{4}\s*[-–]\s*\d{4}|\S+", text):
            years = _YEARS.match(token)
            key, sep, value = token.partition(":")
            if years:
                result.year_from = int(years.group(1))
                result.year_to = int(years.group(2) or years.group(1))
            elif sep and key.lower() in ("by", "author") and value:
                result.author = value.casefold()
            else:
                words.append(token.casefold())
        return result

    def matches(self, paper: Paper) -> bool:
        """True when `paper` passes every part of the filter."""
        if self.year_from is not None and not (
            paper.year and self.year_from <= paper.year <= (self.year_to or self.year_from)
        ):
            return False
        authors = [a.casefold() for a in paper.authors]
        if self.author and not any(self.author in a for a in authors):
            return False
        haystack = " ".join([paper.title.casefold(), paper.paper_id.casefold(), *authors])
        return all(word in haystack for word in self.words)


def select_papers(papers: Sequence[Paper], needle: str = "") -> tuple[str, list[Paper], str]:
    """`/papers [filter]`: a title, the papers to list (newest first) and a Markdown footer."""
    wanted = PaperFilter.parse(needle)
    chosen = [p for p in papers if wanted.matches(p)]
    chosen.sort(key=lambda p: (-(p.year or 0), p.title.casefold()))
    what = f"matching “{needle}”" if needle else "in the index"
    title = f"{len(chosen)} papers {what}"
    if not chosen:
        return title, [], "No paper matches. Try `/search` for a looser match."
    footer = ""
    if len(chosen) > MAX_LISTED:
        footer = f"… and {len(chosen) - MAX_LISTED} more (narrow with `/papers <filter>`).\n\n"
    footer += "Summarize one with `/summarize <title or id>`."
    return title, chosen[:MAX_LISTED], footer


def search_notice(query: str, hits: Sequence[SearchHit]) -> tuple[str, str]:
    """Title and Markdown body for `/search <query>`."""
    title = f"Search “{query}”: {len(hits)} papers"
    if not hits:
        return title, "Nothing found."
    lines = []
    for rank, hit in enumerate(hits, 1):
        year = f" ({hit.year})" if hit.year else ""
        snippet = " ".join(hit.snippet.split())
        if len(snippet) > 200:
            snippet = snippet[:199] + "…"
        lines.append(
            f"{rank}. **{_md(hit.title)}**{year}  \n"
            f"   `{hit.paper_id}` · score {hit.score:.2f}  \n"
            f"   {_md(snippet)}"
        )
    return title, "\n".join(lines)


def default_export_path(conversation_id: str) -> Path:
    """`./conversation-<id>.md` in the working directory."""
    safe = "".join(c for c in conversation_id if c.isalnum() or c in "-_")[:24]
    return Path.cwd() / f"conversation-{safe}.md"


def turn_prompt(kind: str, question: str) -> str:
    """What the user typed for a saved turn (summaries shown as the command)."""
    if kind == "summary":
        return f"/summarize {question}"
    if kind == "topic_summary":
        return f"/topic {question}"
    return question


def answer_as_text(answer: Answer) -> str:
    """An answer with its reference list, for the clipboard ("" when it has no text)."""
    cited = sorted({c.marker for c in answer.citations})
    by_number = {s.number: s for s in answer.sources}
    refs = []
    for number in cited:
        source = by_number.get(number)
        if source is None:
            continue
        arxiv = f" arXiv:{source.arxiv_id}" if source.arxiv_id else ""
        year = f" ({source.year})" if source.year else ""
        refs.append(f"[{number}] {source.title}{year}.{arxiv}")
    text = answer.answer.strip()
    if not text:
        return ""
    return text + ("\n\nReferences\n" + "\n".join(refs) if refs else "") + "\n"


# CLI wording in the core's hints, and what to do inside the chat instead.
_TUI_HINTS = (
    (re.compile(r"`?--model offline`?|`?RA_MODEL=offline`?"), "`/model offline`"),
    (re.compile(r"check --model / RA_MODEL"), "list the models with `/model`"),
    (re.compile(r"`ra search`"), "`/search`"),
    (re.compile(r"`ra papers`"), "`/papers`"),
    (re.compile(r"`ra history`"), "ctrl+r (history)"),
    (re.compile(r"pass a paper id or arXiv id to pick one"), "pick one from the list"),
    (re.compile(r"`ra ingest( --reindex)?`"), r"`ra ingest\1` in a terminal, then `/reload`"),
)


def tui_hint(hint: str | None) -> str | None:
    """A core error hint with CLI flags and commands replaced by the chat's own actions."""
    if not hint:
        return hint
    for pattern, replacement in _TUI_HINTS:
        hint = pattern.sub(replacement, hint)
    return hint
