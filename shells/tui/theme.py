"""Pick a Textual theme that matches the terminal: light or dark.

Order: `RA_THEME` (`dark`, `light` or any Textual theme name such as `nord`), then the
theme last picked in the palette (saved per RA_HOME), then the `COLORFGBG` variable many
terminals set (`"15;0"`: light text on a dark background), then
dark. Terminals that do not set `COLORFGBG` (e.g. inside tmux) need `RA_THEME=light` for a
light theme.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DARK = "textual-dark"
LIGHT = "textual-light"
# ANSI background colours that are light: white (7), bright white (15), and bright greys.
_LIGHT_BACKGROUNDS = {7, 9, 10, 11, 12, 13, 14, 15}


def background_is_light(colorfgbg: str) -> bool | None:
    """Parse `COLORFGBG` (`fg;bg` or `fg;default;bg`); None when it says nothing."""
    last = colorfgbg.strip().split(";")[-1]
    if not last.isdigit():
        return None
    return int(last) in _LIGHT_BACKGROUNDS


def choose_theme(environ: Mapping[str, str] | None = None, saved: str | None = None) -> str:
    """The Textual theme name to start with."""
    env = os.environ if environ is None else environ
    wanted = env.get("RA_THEME", "").strip().lower()
    if wanted in ("dark", "light"):
        return DARK if wanted == "dark" else LIGHT
    if wanted:
        return wanted
    if saved:
        return saved
    light = background_is_light(env.get("COLORFGBG", ""))
    return LIGHT if light else DARK
