"""Citation markers in answer text turned into Markdown links the chat view can act on.

`[2]` becomes a `cite:2` link; `[1, 3]` becomes one link per number; a marker that names no
given source is struck through and flagged. Streaming text is fed through `MarkerStream`,
which holds back a marker until its closing bracket arrives.
"""

from __future__ import annotations

import re
from collections.abc import Collection

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
