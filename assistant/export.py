"""A saved conversation as Markdown, with one reference list for the whole conversation.

Each turn's `[n]` markers are renumbered to the conversation-wide reference numbers (the
same paper keeps one number); markers that named no given source are shown as `[n?]`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from assistant.answer import SourceGiven
from assistant.citations import renumber
from assistant.history import Conversation
from assistant.text import format_authors
from retrieval.models import Paper

_KIND_LABEL = {"answer": "Q", "summary": "Summary of", "topic_summary": "Topic overview:"}


def _reference(source: SourceGiven, paper: Paper | None) -> str:
    authors = paper.authors if paper else source.authors
    truncated = paper.authors_truncated if paper else source.authors_truncated
    names = format_authors(authors, truncated=truncated)
    parts = [names or "Unknown authors"]
    parts.append(f"({source.year})" if source.year else "(n.d.)")
    parts.append(f"*{source.title}*.")
    if source.arxiv_id:
        parts.append(f"arXiv:{source.arxiv_id}.")
    elif paper and paper.url:
        parts.append(f"<{paper.url}>")
    return " ".join(parts)


def conversation_markdown(
    conversation: Conversation, lookup: Callable[[str], Paper | None] | None = None
) -> str:
    """Markdown for `conversation`; `lookup(paper_id)` adds details for the references."""
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.created_at))
    lines = [
        f"# {conversation.title or 'Conversation'}",
        "",
        f"_Conversation {conversation.id}, {created}_",
        "",
    ]
    refs: dict[str, int] = {}
    ref_sources: dict[str, SourceGiven] = {}
    for turn in conversation.turns:
        label = _KIND_LABEL.get(turn.kind, "Q")
        lines += [f"## {label} {turn.question}", ""]
        answer = turn.answer
        if answer is None:
            status = "interrupted before an answer" if turn.status == "pending" else "failed"
            detail = f": {turn.error}" if turn.error else ""
            lines += [f"_({status}{detail})_", ""]
            continue
        mapping: dict[int, int] = {}
        cited = {c.marker for c in answer.citations}
        for source in answer.sources:
            if source.number not in cited:
                continue
            number = refs.setdefault(source.paper_id, len(refs) + 1)
            ref_sources.setdefault(source.paper_id, source)
            mapping[source.number] = number
        lines += [renumber(answer.answer, mapping).strip(), ""]
        notes = [f"model {answer.model}"]
        if answer.incomplete:
            notes.append("incomplete" + (f": {answer.error}" if answer.error else ""))
        if answer.invalid_citations:
            shown = ", ".join(str(n) for n in answer.invalid_citations)
            notes.append(f"invalid citations: {shown}")
        lines += [f"_({'; '.join(notes)})_", ""]
    if refs:
        lines += ["## References", ""]
        for paper_id, number in sorted(refs.items(), key=lambda item: item[1]):
            paper = lookup(paper_id) if lookup else None
            lines.append(f"{number}. {_reference(ref_sources[paper_id], paper)}")
        lines.append("")
    return "\n".join(lines)
