"""Resolve a user's paper reference (paper id, arXiv id or title fragment) to papers."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Protocol, TypeVar

from retrieval.ids import is_arxiv_id, normalize_arxiv_id, slugify


class Titled(Protocol):
    """What a reference is resolved by (a `Paper`, or a `records.PaperTitle` row)."""

    @property
    def paper_id(self) -> str: ...
    @property
    def arxiv_id(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def title_is_display(self) -> bool: ...


T = TypeVar("T", bound=Titled)


def resolve_reference(ref: str, papers: Sequence[T]) -> list[T]:
    """Exact id or arXiv id gives that paper alone; otherwise title matches, best first.

    An empty list means nothing matched; more than one means the reference is ambiguous
    and the caller should ask ("did you mean ...").
    """
    ref = ref.strip()
    if not ref:
        return []
    by_id = {p.paper_id: p for p in papers}
    if ref in by_id:
        return [by_id[ref]]
    if is_arxiv_id(ref):
        wanted = normalize_arxiv_id(ref)
        exact = [p for p in papers if p.arxiv_id == wanted]
        if exact:
            return exact
    needle = ref.lower()
    slug = slugify(ref)
    real = [p for p in papers if not p.title_is_display]
    # A title that starts with the reference ("X-Teaming" -> "X-Teaming: Multi-Turn ...").
    prefix = [p for p in real if _starts_with_words(p.title.lower(), needle)]
    if len(prefix) == 1:
        return prefix
    # The part before the colon is the paper's short name: an exact match wins.
    named = [p for p in real if p.title.split(":")[0].strip().lower() == needle]
    if len(named) == 1:
        return named
    contains = [p for p in papers if needle in p.title.lower() or (slug and slug in p.paper_id)]
    if contains:
        return sorted(
            contains, key=lambda p: (not p.title.lower().startswith(needle), len(p.title))
        )
    titles = {p.title.lower(): p for p in real}
    close = difflib.get_close_matches(needle, list(titles), n=5, cutoff=0.5)
    if close:
        return [titles[t] for t in close]
    # Fall back to word overlap with the title, for "the WildGuard paper" style references.
    words = {w for w in slug.split("-") if len(w) > 2}
    scored = [(len(words & set(slugify(p.title).split("-"))), p) for p in papers]
    ranked = [p for score, p in sorted(scored, key=lambda sp: -sp[0]) if score > 0]
    return ranked[:5]


def _starts_with_words(title: str, prefix: str) -> bool:
    """`title` starts with `prefix` ending on a word boundary ("safety" is not "SafetyAnalyst")."""
    return title.startswith(prefix) and (
        len(title) == len(prefix) or not title[len(prefix)].isalnum()
    )
