"""Citation markers in answer text turned into Markdown links the chat view can act on.

`[2]` becomes a `cite:2` link; `[1, 3]` becomes one link per number; a marker that names no
given source is struck through and flagged. Streaming text is fed through `MarkerStream`,
which holds back a marker until its closing bracket arrives.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.answer import SupportVerdict

MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_PARTIAL = re.compile(r"\[[\d,;\s]*")
_MAX_HELD = 24
CITE_SCHEME = "cite:"


def _numbers(group: str) -> list[int]:
    return [int(n) for n in re.split(r"\s*[,;]\s*", group.strip()) if n]


def _link(number: int, invalid: Collection[int]) -> str:
    if number in invalid:
        return f"~~{number}~~ ⚠"
    return f"[{number}]({CITE_SCHEME}{number})"


def linkify(text: str, invalid: Collection[int] = ()) -> str:
    """Markdown where each citation marker is a `cite:N` link (invalid ones flagged)."""

    def replace(match: re.Match[str]) -> str:
        numbers = _numbers(match.group(1))
        if len(numbers) == 1 and numbers[0] not in invalid:
            return f"[\\[{numbers[0]}\\]]({CITE_SCHEME}{numbers[0]})"
        return "\\[" + ", ".join(_link(n, invalid) for n in numbers) + "\\]"

    return MARKER.sub(replace, text)


def cite_number(href: str) -> int | None:
    """The source number of a `cite:N` link, else None."""
    if not href.startswith(CITE_SCHEME):
        return None
    tail = href[len(CITE_SCHEME) :]
    return int(tail) if tail.isdigit() else None


class MarkerStream:
    """Linkifies streamed deltas without ever splitting a marker across two fragments."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, delta: str) -> str:
        """The linkified text that is safe to show now."""
        text = self._held + delta
        self._held = ""
        cut = text.rfind("[")
        if cut != -1:
            tail = text[cut:]
            if len(tail) <= _MAX_HELD and _PARTIAL.fullmatch(tail):
                self._held = tail
                text = text[:cut]
        return linkify(text)

    def flush(self) -> str:
        """Whatever is still held back (the stream has ended)."""
        text, self._held = self._held, ""
        return linkify(text)


# A dim-looking mark after a sentence its cited abstract backs only weakly, or not at all
# (the verdicts of `assistant.support`, the scorer the eval uses).
SUPPORT_MARKS = {"weak": "⁽?⁾", "unsupported": "⁽✗⁾"}
SUPPORT_LEGEND = "⁽?⁾ weakly supported · ⁽✗⁾ not supported by the cited abstracts"


def mark_support(text: str, verdicts: Sequence[SupportVerdict]) -> tuple[str, bool]:
    """`text` with a mark after each claim sentence whose verdict is weak or unsupported,
    and whether any was marked. The verdicts are in sentence order (`sentence_ends`)."""
    from assistant.support import sentence_ends

    ends = sentence_ends(text)
    if len(ends) != len(verdicts):  # not this text's verdicts: show it unmarked
        return text, False
    inserts = [
        (end, SUPPORT_MARKS[v.verdict])
        for (_, end), v in zip(ends, verdicts, strict=True)
        if v.claim and v.verdict in SUPPORT_MARKS
    ]
    for end, mark in reversed(inserts):
        text = f"{text[:end]} {mark}{text[end:]}"
    return text, bool(inserts)
