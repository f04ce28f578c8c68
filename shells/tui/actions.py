"""Plain helpers behind the app's commands: text for notices, export paths, clipboard text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.answer import Answer
    from retrieval.models import Paper, SearchHit

MAX_LISTED = 40


def model_names(current: str | None = None) -> list[str]:
    """Model names to complete after `/model`: offline, its misbehaviours, the current one."""
    from assistant.chat.registry import MISBEHAVIOURS

    names = ["offline", *(f"offline:{name}" for name in MISBEHAVIOURS)]
    if current and current not in names:
        names.insert(0, current)
    return names


def _md(text: str) -> str:
    """Escape the characters that would turn a title into Markdown markup."""
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def _paper_line(paper: Paper) -> str:
    year = f" ({paper.year})" if paper.year else ""
    return f"- **{_md(paper.title)}**{year} · `{paper.paper_id}`"


def papers_notice(papers: Sequence[Paper], needle: str = "") -> tuple[str, str]:
    """Title and Markdown body for `/papers [filter]`."""
    folded = needle.casefold()
    chosen = [
        p
        for p in papers
        if not folded
        or folded in p.title.casefold()
        or folded in p.paper_id.casefold()
        or any(folded in a.casefold() for a in p.authors)
    ]
    chosen.sort(key=lambda p: (-(p.year or 0), p.title.casefold()))
    what = f"matching “{needle}”" if needle else "in the index"
    title = f"{len(chosen)} papers {what}"
    if not chosen:
        return title, "No paper matches. Try `/search` for a looser match."
    lines = [_paper_line(p) for p in chosen[:MAX_LISTED]]
    if len(chosen) > MAX_LISTED:
        lines.append(f"- … and {len(chosen) - MAX_LISTED} more (narrow with `/papers <filter>`)")
    lines.append("\nSummarize one with `/summarize <title or id>`.")
    return title, "\n".join(lines)


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
            f"{rank}. **{_md(hit.title)}**{year} · `{hit.paper_id}` · score {hit.score:.2f}  \n"
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
        return f"/summarize {question} (topic)"
    return question


def answer_as_text(answer: Answer) -> str:
    """An answer with its reference list, for the clipboard."""
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
    return text + ("\n\nReferences\n" + "\n".join(refs) if refs else "") + "\n"
