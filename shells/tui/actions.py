"""The app's actions, one per entry of the `keymap` table (keys, slash commands, palette).

`ChatActions` is the base of `ResearchApp`: the app composes the widgets and routes the
session's messages; the actions here only read what it declares below.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from shells.tui import keymap, render
from shells.tui.screens.help import HelpScreen
from shells.tui.screens.history import HistoryScreen

if TYPE_CHECKING:
    from shells.tui.widgets.chat_log import ChatLog
    from shells.tui.widgets.prompt import PromptArea
    from shells.tui.widgets.session import Session
    from shells.tui.widgets.sources import SourcesPanel
    from shells.tui.widgets.status import StatusBar


class ChatActions(App[None]):
    """Every `action_<name>` of the command table, over the parts `ResearchApp` composes."""

    session: Session
    chat: ChatLog
    prompt: PromptArea
    sources: SourcesPanel
    status: StatusBar
    conversation_id: str | None
    _cancel: threading.Event | None
    _sources_user_choice: bool | None

    @property
    def running(self) -> bool:
        """True while an answer is being written."""
        return self._cancel is not None

    @property
    def narrow(self) -> bool:
        """True when the sources panel is an overlay."""
        return self.size.width < keymap.NARROW

    async def start_turn(self, shown: str, kind: str, arg: str) -> None:
        """Run a turn (the app's)."""
        raise NotImplementedError

    async def clear_answer_selection(self) -> None:
        """No answer selected (the app's)."""
        raise NotImplementedError

    def end_turn(self) -> None:
        """Forget the turn being written (the app's)."""
        raise NotImplementedError

    async def _history_done(self, conversation_id: str | None) -> None:
        assistant = self.session.assistant
        self.prompt.focus()
        if assistant is None:
            return
        if conversation_id is not None:
            self.session.run("resume", conversation_id)
        elif self.conversation_id and not any(
            info.id == self.conversation_id for info in assistant.conversations()
        ):
            await self.action_new()  # the conversation on screen was deleted

    # --------------------------------------------------- actions (keymap table)

    async def action_new(self) -> None:
        """Start a new conversation."""
        if self.running:
            self.action_cancel()
            self.end_turn()  # what the stopped turn still sends is dropped
        self.conversation_id = None
        await self.chat.clear()
        await self.clear_answer_selection()
        self.status.set_usage(None)
        self.prompt.focus()

    def action_history(self) -> None:
        """Open the history screen."""
        if self.session.assistant is None:
            self.notify("The index is still opening; try again in a moment.")
            return
        screen = HistoryScreen(self.session.assistant, self.conversation_id)
        self.push_screen(screen, self._history_done)

    async def action_summarize(self, arg: str, line: str = "") -> None:
        """`/summarize <paper>`."""
        await self.start_turn(line or f"/summarize {arg}", "summarize", arg)

    async def action_topic(self, arg: str, line: str = "") -> None:
        """`/topic <topic>` (or `/summarize --topic <topic>`)."""
        await self.start_turn(line or f"/topic {arg}", "topic", arg)

    async def action_papers(self, arg: str = "", line: str = "/papers") -> None:
        """`/papers [filter]`."""
        await self.chat.add_user(line)
        self.session.run("papers", arg, line=line)

    async def action_search(self, arg: str, line: str = "") -> None:
        """`/search <query>`."""
        await self.chat.add_user(line or f"/search {arg}")
        self.session.run("search", arg, line=line)

    def action_export(self, arg: str = "", line: str = "/export") -> None:
        """`/export [path]`: asks before overwriting, never creates folders."""
        if not self.conversation_id:
            self.notify("Nothing to export yet: ask a question first.", title="Export")
            return
        target = Path(arg).expanduser() if arg else render.default_export_path(self.conversation_id)
        self.session.run("export", self.conversation_id, target.absolute(), False, line=line)

    def action_model(self, arg: str = "", line: str = "/model") -> None:
        """`/model`: pick from the list; `/model <name>`: switch."""
        if arg:
            self.session.run("set_model", arg, line=line)
        else:
            self.session.run("models", True, line=line)

    def action_reload(self) -> None:
        """`/reload`: reopen the index now."""
        self.session.check_index(force=True)

    def action_focus_input(self) -> None:
        """Focus the input box."""
        self.prompt.focus()

    def action_toggle_sources(self) -> None:
        """Show or hide the sources panel (an overlay on narrow screens)."""
        self.sources.display = not self.sources.display
        self._sources_user_choice = bool(self.sources.display)
        if not self.sources.display:
            self.prompt.focus()

    def action_copy_answer(self) -> None:
        """Copy the last answer (with its references) to the clipboard."""
        answers = [m.answer for m in self.chat.answers if m.answer is not None]
        text = render.answer_as_text(answers[-1]) if answers else ""
        if not text:
            self.notify("No answer text to copy yet.")
            return
        self.copy_to_clipboard(text)
        self.notify("Copied the last answer to the clipboard.")

    def action_cancel(self) -> None:
        """Stop the answer being written (it is kept, marked incomplete)."""
        if self._cancel is not None:
            self._cancel.set()
        elif self.narrow and self.sources.display:
            self.action_toggle_sources()

    def action_help(self) -> None:
        """Show the help screen."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(), self._refocus)

    def _refocus(self, _result: object = None) -> None:
        self.prompt.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape means "stop" while an answer is written, "close" for the overlay."""
        if action == "cancel":
            return self.running or (self.narrow and bool(self.sources.display))
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette: the table's entries first, then Textual's (theme, keys, quit)."""
        for command in keymap.COMMANDS:
            if not command.palette or (command.name == "cancel" and not self.running):
                continue
            yield SystemCommand(
                command.palette, command.help, partial(self.run_action, command.name)
            )
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        """Stop any running answer, then quit (turns are already saved)."""
        if self._cancel is not None:
            self._cancel.set()
        self.exit()
