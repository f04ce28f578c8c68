"""The sources panel: the papers given to the model for the selected answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.style import Style
from textual.widgets import Collapsible, Label, Static

from assistant.text import format_authors

if TYPE_CHECKING:
    from assistant.answer import Answer, SourceGiven
    from retrieval.models import Paper

EMPTY_HINT = "The papers given to the model for the selected answer appear here."


def source_details(source: SourceGiven, paper: Paper | None) -> Content:
    """Authors, year, arXiv link and abstract of one source."""
    authors = paper.authors if paper else source.authors
    truncated = paper.authors_truncated if paper else source.authors_truncated
    year = (paper.year if paper else None) or source.year
    arxiv = (paper.arxiv_id if paper else None) or source.arxiv_id
    url = (paper.url if paper else None) or (f"https://arxiv.org/abs/{arxiv}" if arxiv else None)
    abstract = (paper.abstract if paper else "") or source.text
    parts: list[Content] = [Content.from_markup("[b]$t[/b]", t=source.title)]
    if authors:
        shown = format_authors(authors, truncated=truncated, limit=len(authors))
        parts.append(Content.from_markup("[b]Authors[/b] $a", a=shown))
    if year:
        parts.append(Content.from_markup("[b]Year[/b] $y", y=str(year)))
    if url:
        label = Content.from_markup("[b]arXiv[/b] " if arxiv else "[b]Link[/b] ")
        parts.append(label + Content.styled(arxiv or url, Style(link=url, underline=True)))
    parts.append(Content(""))
    parts.append(Content(abstract.strip()))
    return Content("\n").join(parts)


class SourceItem(Collapsible):
    """One numbered source; expands to its details."""

    def __init__(self, source: SourceGiven, paper: Paper | None, *, cited: bool) -> None:
        year = f" ({source.year})" if source.year else ""
        title = Content.from_markup(
            "$mark[b]\\[$n][/b] $title$year",
            mark="● " if cited else "",
            n=str(source.number),
            title=source.title,
            year=year,
        )
        super().__init__(
            Static(source_details(source, paper), classes="details"),
            title=title.markup,
            collapsed=True,
            classes="-cited" if cited else "",
            id=f"source-{source.number}",
        )
        self.number = source.number


class SourcesPanel(VerticalScroll):
    """Lists an answer's sources, cited ones highlighted; `reveal` opens one of them."""

    def compose(self) -> ComposeResult:
        yield Label("Sources", classes="heading")
        yield Label(EMPTY_HINT, classes="hint")

    async def show_answer(self, answer: Answer | None, papers: Mapping[str, Paper]) -> None:
        """Replace the panel's content with `answer`'s sources (None: empty)."""
        await self.remove_children()
        if answer is None or not answer.sources:
            hint = EMPTY_HINT if answer is None else "No papers were given for this answer."
            await self.mount_all([Label("Sources", classes="heading"), Label(hint, classes="hint")])
            return
        cited = {c.marker for c in answer.citations}
        heading = f"Sources · {len(cited)} of {len(answer.sources)} cited"
        items = [
            SourceItem(source, papers.get(source.paper_id), cited=source.number in cited)
            for source in sorted(answer.sources, key=lambda s: s.number)
        ]
        await self.mount_all([Label(heading, classes="heading"), *items])

    def reveal(self, number: int) -> bool:
        """Expand source `number`, collapse the others, scroll to it; False if absent."""
        found = False
        for item in self.query(SourceItem):
            item.collapsed = item.number != number
            if item.number == number:
                found = True
                self.call_after_refresh(self.scroll_to_widget, item, top=True)
        return found
