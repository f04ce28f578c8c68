"""Command palette provider: "Summarize: <paper>" for every indexed paper."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol, cast

from textual.command import Hit, Hits, Provider

if TYPE_CHECKING:
    from retrieval.models import Paper


class _PaperApp(Protocol):
    """What the provider needs from the app."""

    @property
    def paper_list(self) -> list[Paper]: ...

    def summarize_paper(self, paper_id: str) -> None: ...


class PaperCommands(Provider):
    """Fuzzy-matches paper titles and offers to summarize the chosen one."""

    async def search(self, query: str) -> Hits:
        app = cast(_PaperApp, self.app)
        matcher = self.matcher(query)
        for paper in app.paper_list:
            text = f"Summarize: {paper.title}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(app.summarize_paper, paper.paper_id),
                    help=f"{paper.paper_id} · {paper.year or 'n.d.'}",
                )
