"""Display fields cleaned at ingest (retrieval.hygiene), before ids and titles are derived."""

from __future__ import annotations

from retrieval.hygiene import clean_display, needs_cleaning
from retrieval.ids import paper_id_for
from retrieval.models import Paper, ParseIssue
from retrieval.parsers.arxiv_listing import display_title

_ONE_LINE = ("title", "category", "arxiv_id", "doi", "url", "code_url", "date")


def _clean_list(values: list[str]) -> list[str]:
    return [v for v in (" ".join(clean_display(x).split()) for x in values) if v]


def clean_paper(paper: Paper) -> Paper:
    """`paper` without escape sequences, control characters or bidi overrides in its fields.

    Most records need nothing and are returned as they are. A cleaned record gets its
    display title and paper id derived again from the cleaned text, so an escape sequence
    never leaks into an id (`ESC[31m` would otherwise leave `31m` in a title slug).
    """
    fields = [getattr(paper, name) for name in _ONE_LINE]
    lists = [*paper.authors, *paper.affiliations]
    if not any(isinstance(v, str) and needs_cleaning(v) for v in (*fields, *lists, paper.abstract)):
        return paper
    update: dict[str, object] = {
        name: " ".join(clean_display(value).split()) or None
        for name, value in zip(_ONE_LINE, fields, strict=True)
        if isinstance(value, str)
    }
    update["authors"] = [
        a for a in (" ".join(clean_display(x).split()) for x in paper.authors) if a
    ]
    update["affiliations"] = [
        a for a in (" ".join(clean_display(x).split()) for x in paper.affiliations) if a
    ]
    abstract = " ".join(clean_display(paper.abstract).split())
    update["abstract"] = abstract
    title = update.get("title")
    if paper.title_is_display or not title:
        arxiv_id = update.get("arxiv_id")
        update["title"] = display_title(abstract, arxiv_id if isinstance(arxiv_id, str) else None)
        update["title_is_display"] = True
    real_title = None if update.get("title_is_display") else update["title"]
    arxiv = update.get("arxiv_id")
    update["paper_id"] = paper_id_for(
        arxiv_id=arxiv if isinstance(arxiv, str) else None,
        title=real_title if isinstance(real_title, str) else None,
        abstract=abstract,
    )
    return paper.model_copy(update=update)


def clean_issue(problem: ParseIssue) -> ParseIssue:
    """An issue whose message (which may quote the file) is safe to print."""
    if not needs_cleaning(problem.message):
        return problem
    return problem.model_copy(update={"message": clean_display(problem.message)})
