"""The help screen: slash commands, keys and a few notes."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from shells.tui.keymap import help_markdown

NOTES = """\
**Citations.** Markers such as **[2]** name the numbered papers in the sources panel. Click one,
or focus a cited paper under the answer and press Enter, to open it there. A struck-through
marker with ⚠ names no paper that was given to the model.

**Models.** With no `OPENAI_API_KEY` or `OPENAI_BASE_URL` set, the built-in **offline** model
answers from the papers' own sentences. `/model` lists the endpoint's models and `offline`;
`/model <name>` switches for this session; `RA_MODEL` sets the default.

**The index.** The chat notices when `ra ingest` (or `ra ingest --reindex`) ran in another
terminal, before each question and when the window gets focus; `/reload` forces it.

**History.** Conversations are saved after every turn; the one you viewed last is reopened on
the next start. `ra ask` and `ra summarize` keep their one-shot answers out of history unless
given `--save`.

**Theme.** A theme picked in the palette (ctrl+p, "Change theme") is kept for the next start.
Otherwise the app follows the terminal's `COLORFGBG`; `RA_THEME=light`, `RA_THEME=dark` (or
any Textual theme name) overrides both.
"""


def help_text() -> str:
    """The whole help page as Markdown."""
    return f"{help_markdown()}\n## Notes\n\n{NOTES}"


class HelpScreen(ModalScreen[None]):
    """A dismissable help page."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Help"
            body.border_subtitle = "Esc to close"
            yield Markdown(help_text())
