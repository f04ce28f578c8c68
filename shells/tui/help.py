"""The help screen: slash commands, keys and a few notes."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from shells.tui.slash import help_markdown

KEYS = """\
- `Enter`: send the question or command
- `Tab` or `→`: accept the completion shown in grey
- `Escape`: stop the answer being written (it is kept, marked incomplete)
- `ctrl+n`: new conversation
- `ctrl+l`: focus the input line
- `ctrl+b`: show or hide the sources panel
- `ctrl+r`: history, to resume or delete a conversation
- `ctrl+y`: copy the last answer with its references
- `ctrl+p`: command palette (every action, and "Summarize" for any paper)
- `F1`: this help
- `ctrl+q`: quit (the conversation is saved after every turn)
"""

NOTES = """\
**Citations.** Markers such as **[2]** name the numbered papers in the sources panel. Click one,
or focus a cited paper under the answer and press Enter, to open it there. A struck-through
marker with ⚠ names no paper that was given to the model.

**Models.** With no `OPENAI_API_KEY` or `OPENAI_BASE_URL` set, the built-in **offline** model
answers from the papers' own sentences. `/model <name>` switches for this session;
`RA_MODEL` sets the default.

**Theme.** The app follows the terminal's `COLORFGBG`; set `RA_THEME=light` or
`RA_THEME=dark` (or any Textual theme name) to choose.
"""


def help_text() -> str:
    """The whole help page as Markdown."""
    return f"## Commands\n\n{help_markdown()}\n\n## Keys\n\n{KEYS}\n## Notes\n\n{NOTES}"


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
