"""Prompt templates: loaded from `prompts/*.txt` and rendered with `string.Template`.

No prompt text lives in Python code. Retrieved text is escaped before it goes into a
template so it cannot close a `<source>` block, open a fake one, or carry `[n]` markers.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from string import Template

_PKG = Path(__file__).resolve().parent

# The sentence a model says when the sources do not cover a question (also in the prompts).
ABSTAIN_SENTENCE = "The indexed papers do not cover this."

TEMPLATE_NAMES = (
    "system",
    "answer",
    "source",
    "history_turn",
    "condense",
    "summary",
    "topic_summary",
)

# Tags the templates use as delimiters; lookalikes in data are neutralized.
_TAGS = r"source|question|follow_up|conversation|topic|system|instructions?"
_TAG_LOOKALIKE = re.compile(rf"<\s*(/?)\s*({_TAGS})\b", re.IGNORECASE)
_MARKER_LOOKALIKE = re.compile(r"\[(\s*\d+(?:\s*[-–,;]\s*\d+)*\s*)\]")
_TASK_LOOKALIKE = re.compile(r"^(\s*)#+(\s*task\s*:)", re.IGNORECASE | re.MULTILINE)


def prompts_dir() -> Path:
    """The prompt templates: `prompts/` in a checkout, `assistant/_prompts` in a wheel."""
    packaged = _PKG / "_prompts"
    return packaged if packaged.is_dir() else _PKG.parent / "prompts"


@cache
def template(name: str) -> Template:
    """The template `prompts/<name>.txt` (cached)."""
    path = prompts_dir() / f"{name}.txt"
    return Template(path.read_text(encoding="utf-8").strip())


def render(name: str, **values: object) -> str:
    """Render template `name`; `$abstain` is always available; a missing value raises."""
    merged: dict[str, object] = {"abstain": ABSTAIN_SENTENCE}
    merged.update(values)
    return template(name).substitute({k: str(v) for k, v in merged.items()})


def escape_data(text: str) -> str:
    """Neutralize delimiter lookalikes in retrieved or user-provided text.

    `<source ...>`, `</source>` (and the other tags the prompts use) become `&lt;source`,
    bracketed numbers such as `[12]` become `(12)` so the model cannot copy them as
    citations, and a line starting with `## Task:` loses its heading marks.
    """
    text = _TAG_LOOKALIKE.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", text)
    text = _MARKER_LOOKALIKE.sub(lambda m: f"({m.group(1)})", text)
    return _TASK_LOOKALIKE.sub(lambda m: f"{m.group(1)}{m.group(2)}", text)


def render_source(
    number: int,
    *,
    title: str,
    authors: list[str],
    year: int | None,
    arxiv_id: str | None,
    text: str,
) -> str:
    """One numbered source block; every field is escaped."""
    shown_authors = ", ".join(authors[:6]) + (" et al." if len(authors) > 6 else "")
    return render(
        "source",
        number=number,
        title=escape_data(" ".join(title.split())),
        authors=escape_data(shown_authors or "unknown"),
        year=year if year is not None else "unknown",
        arxiv_id=escape_data(arxiv_id or "none"),
        text=escape_data(text.strip()),
    )
