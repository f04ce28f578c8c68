"""`ra chat`: the Textual app. It composes the widgets and routes their messages.

The `Session` widget owns the Assistant and does every slow thing in thread workers (the
index opens after the first paint); it answers with messages handled here. Commands come
from one table (`keymap`): keys, slash commands and palette entries all call the same
`action_<name>` methods. Whatever happens, focus comes back to the input box.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Footer

from assistant.errors import AssistantError
from shells.tui import keymap, render
from shells.tui.actions import ChatActions
from shells.tui.palette import PaperCommands
from shells.tui.screens.dialogs import ConfirmScreen, PickScreen
from shells.tui.slash import CompletionSource, SlashError, is_command, parse
from shells.tui.state import StateFile
from shells.tui.theme import DARK, choose_theme
from shells.tui.widgets.chat_log import AnswerMessage, ChatLog
from shells.tui.widgets.prompt import PromptArea
from shells.tui.widgets.session import AssistantFactory, Session, candidates_of
from shells.tui.widgets.sources import SourcesPanel
from shells.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.history import Conversation
    from assistant.orchestrator import Assistant
    from retrieval.models import Paper

BUSY = "An answer is being written: press Escape to stop it."


class ResearchApp(ChatActions):
    """The chat UI: chat log, sources panel, input box, status line and footer."""

    TITLE = "Research assistant"
    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (keymap.NARROW, "-wide")]  # noqa: RUF012
    COMMANDS = App.COMMANDS | {PaperCommands}
    BINDINGS: ClassVar[list[BindingType]] = list(keymap.bindings())

    def __init__(
        self,
        settings: Settings,
        *,
        assistant_factory: AssistantFactory | None = None,
        resume: bool = True,
        show_timings: bool = True,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.conversation_id: str | None = None
        self.completion = CompletionSource()
        self.state = StateFile(settings.home)
        self.session = Session(settings, assistant_factory)
        self._resume = resume
        self._show_timings = show_timings
        self._theme_name = theme or choose_theme(saved=self.state.state.theme)
        self._papers: dict[str, Paper] = {}
        self._cancel: threading.Event | None = None
        self._turn: tuple[AnswerMessage, str] | None = None  # the answer being written, line
        self._selected: AnswerMessage | None = None
        self._sources_user_choice: bool | None = None

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        # Kept as attributes: the handlers reach them without querying the DOM.
        self.chat = ChatLog(id="chat")
        self.sources = SourcesPanel(id="sources")
        self.prompt = PromptArea(
            self.completion,
            recall=self.state.state.inputs,
            on_send=self.state.remember_input,
            id="prompt",
        )
        self.status = StatusBar(show_timings=self._show_timings, id="status")
        yield self.session
        with Horizontal(id="main"):
            yield self.chat
            yield self.sources
        yield self.prompt
        yield self.status
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.theme = self._theme_name if self._theme_name in self.available_themes else DARK
        # Only a theme picked later (the palette) is remembered, not the one started with.
        self.call_after_refresh(
            self.theme_changed_signal.subscribe,
            self,
            lambda theme: self.state.remember_theme(theme.name),
        )
        self.status.set_model(self.settings.resolved_model)
        self.sources.display = False  # shown with the first answer that has sources
        self.prompt.focus()
        # Open the index only once the first frame is on screen.
        self.call_after_refresh(self.session.open, resume=self._resume)

    def on_resize(self, event: events.Resize) -> None:
        self.status.set_compact(event.size.width < keymap.NARROW)

    @property
    def assistant(self) -> Assistant | None:
        """The open Assistant (None until the index is open)."""
        return self.session.assistant

    @property
    def paper_list(self) -> list[Paper]:
        """Every indexed paper (empty until the index is open)."""
        return list(self._papers.values())

    @property
    def model_name(self) -> str:
        """The model in use."""
        assistant = self.session.assistant
        return assistant.model_name if assistant else self.settings.resolved_model

    # ------------------------------------------------------ the session's news

    def _set_papers(self, papers: list[Paper], note: str | None = None) -> None:
        self._papers = {paper.paper_id: paper for paper in papers}
        self.completion.papers = sorted({p.title for p in papers} | {p.paper_id for p in papers})
        self.status.set_corpus(len(papers), note=note)

    async def on_session_opened(self, message: Session.Opened) -> None:
        size = len(message.papers)
        self._set_papers(message.papers, note=f"{size} papers · loading search…")
        self.completion.models = render.model_names(self.model_name)
        self.status.hide_progress()
        self.status.set_model(self.model_name)
        if message.conversation is not None and not self.running and not self.chat.answers:
            await self.load_conversation(message.conversation)

    def on_session_ready(self, message: Session.Ready) -> None:
        self.status.set_corpus(len(self._papers) or message.size)
        if self.settings.openai_base_url or self.settings.openai_api_key:
            self.session.run("models", False)  # the endpoint's models, for completion

    def on_session_progress(self, message: Session.Progress) -> None:
        self.status.show_progress(message.done, message.total)

    def on_session_index_changed(self, message: Session.IndexChanged) -> None:
        before = len(self._papers)
        self._set_papers(message.papers)
        if before and before != len(message.papers):
            self.notify(f"The index changed: {len(message.papers)} papers.", title="Index")

    def on_session_failed(self, message: Session.Failed) -> None:
        if message.title.startswith("Could not open"):
            self.status.hide_progress()
            self.status.set_corpus(None, note="index unavailable")
        self.notify_error(message.error, title=message.title)
        if message.line:
            self.restore_input(message.line)
        else:
            self.prompt.focus()

    async def on_session_notice(self, message: Session.Notice) -> None:
        await self.chat.add_notice(message.title, message.body, message.papers)

    def on_session_info(self, message: Session.Info) -> None:
        self.notify(message.text, title=message.title)

    async def on_session_loaded(self, message: Session.Loaded) -> None:
        await self.load_conversation(message.conversation)
        self.prompt.focus()

    def on_session_models(self, message: Session.Models) -> None:
        self.completion.models = render.model_names(message.current, message.names)
        if not message.pick:
            return
        # The pick list leaves out offline's test misbehaviours (completion still has them).
        names = [n for n in self.completion.models if not n.startswith("offline:")]
        if message.current not in names:
            names.insert(0, message.current)
        options = [(n, f"{'● ' if n == message.current else '  '}{n}") for n in names]
        self.push_screen(PickScreen("Models (Enter to switch)", options), self._model_picked)

    def _model_picked(self, name: str | None) -> None:
        if name:
            self.session.run("set_model", name, line=f"/model {name}")
        self.prompt.focus()

    def on_session_model_set(self, message: Session.ModelSet) -> None:
        self.status.set_model(message.name)
        self.notify(f"Now using {message.name}", title="Model")

    def on_session_export_exists(self, message: Session.ExportExists) -> None:
        def done(yes: bool | None) -> None:
            if yes and self.conversation_id:
                self.session.run("export", self.conversation_id, message.path, True)
            self.prompt.focus()

        self.push_screen(ConfirmScreen(f"{message.path} exists. Overwrite it?", "Overwrite"), done)

    # ------------------------------------------------------------- the input

    @on(PromptArea.Submitted)
    async def submitted(self, event: PromptArea.Submitted) -> None:
        """A question or a slash command."""
        text = event.value.strip()
        if self.running:
            self.notify(BUSY, severity="warning")
            return
        if not is_command(text):
            self.prompt.value = ""
            await self.start_turn(text, "ask", text)
            return
        try:
            command = parse(text)
        except SlashError as error:
            self.notify(str(error), title="Command", severity="error")
            self.restore_input(text)
            return
        self.prompt.value = ""
        await self.run_command(command.name, command.arg, text)

    async def run_command(self, name: str, arg: str, line: str) -> None:
        """Run a slash command: the same `action_<name>` its key and palette entry call."""
        spec = keymap.SLASH[name]
        method = getattr(self, f"action_{name}")
        result = method(arg, line) if spec.arg else method()
        if result is not None:
            await result

    def restore_input(self, text: str) -> None:
        """Give `text` back selected (typing replaces it), unless something new was typed."""
        if not self.prompt.text.strip():
            self.prompt.set_and_select(text)
        self.prompt.focus()

    def notify_error(self, error: AssistantError, *, title: str = "Error") -> None:
        """One notification with the error and what to do in the chat."""
        hint = render.tui_hint(error.hint)
        text = error.message + (f"\n{hint}" if hint else "")
        self.notify(text, title=title, severity="error", timeout=8)

    def on_key(self, event: events.Key) -> None:
        """A printable key while the input is not focused goes to the input (nothing lost)."""
        if self.screen is not self.screen_stack[0] or self.prompt.has_focus:
            return
        if event.is_printable and event.character and event.key not in ("enter", "space"):
            self.prompt.focus()
            self.prompt.insert(event.character)
            event.stop()

    def on_app_focus(self) -> None:
        """Back in the window: another terminal may have re-indexed."""
        if self.session.assistant is not None:
            self.session.check_index()

    # ---------------------------------------------------------------- turns

    async def start_turn(self, shown: str, kind: str, arg: str) -> None:
        """Show the user's line and an empty answer, then run the turn in the session."""
        await self.chat.add_user(shown)
        label = {"ask": "Answer", "summarize": "Summary", "topic": "Topic summary"}[kind]
        message = await self.chat.add_answer(f"{label} · {self.model_name}")
        self._cancel = threading.Event()
        self._turn = (message, shown)
        self.refresh_bindings()
        self.session.turn(message, kind, arg, self.conversation_id, self._cancel)

    def _current(self, token: object) -> AnswerMessage | None:
        return self._turn[0] if self._turn is not None and self._turn[0] is token else None

    async def on_session_stage(self, event: Session.Stage) -> None:
        if (message := self._current(event.token)) is not None:
            message.set_stage(event.text)

    async def on_session_delta(self, event: Session.Delta) -> None:
        if (message := self._current(event.token)) is not None:
            await message.write(event.text)

    async def on_session_turn_done(self, event: Session.TurnDone) -> None:
        if (message := self._current(event.token)) is None or self._turn is None:
            return
        answer, shown = event.answer, self._turn[1]
        cancelled = self._cancel is not None and self._cancel.is_set()
        if answer.conversation_id and answer.conversation_id != self.conversation_id:
            self.conversation_id = answer.conversation_id
            self.session.run("viewed", answer.conversation_id)
        try:
            await message.finish(answer)
            await self.select_answer(message)
            self.status.set_usage(answer)
            if answer.error and not cancelled:
                self.restore_input(shown)  # the answer block says what went wrong
        finally:
            self.end_turn()

    async def on_session_turn_failed(self, event: Session.TurnFailed) -> None:
        if (message := self._current(event.token)) is None or self._turn is None:
            return
        shown, error = self._turn[1], event.error
        try:
            await message.fail(error.message, render.tui_hint(error.hint))
            papers = candidates_of(error)
            if papers:
                width = min(80, int(self.size.width * 0.8)) - 8  # inside the dialog
                options = [(p.paper_id, render.paper_option(p, width)) for p in papers]
                self.push_screen(PickScreen("Which paper?", options), self._paper_picked)
            else:
                self.restore_input(shown)
        finally:
            self.end_turn()

    def _paper_picked(self, paper_id: str | None) -> None:
        if paper_id:
            self.run_worker(self.start_turn(f"/summarize {paper_id}", "summarize", paper_id))
        self.prompt.focus()

    def end_turn(self) -> None:
        """Forget the turn being written: whatever its worker still sends is dropped."""
        self._cancel = None
        self._turn = None
        self.refresh_bindings()

    def summarize_paper(self, paper_id: str) -> None:
        """Summarize one paper (from the command palette)."""
        if self.running:
            self.notify(BUSY, severity="warning")
            return
        self.run_worker(self.start_turn(f"/summarize {paper_id}", "summarize", paper_id))

    # -------------------------------------------------------- sources panel

    async def select_answer(self, message: AnswerMessage) -> None:
        """Mark `message` selected and show its sources."""
        if self._selected is not None and self._selected is not message:
            self._selected.remove_class("-selected")
        self._selected = message
        message.add_class("-selected")
        has_sources = message.answer is not None and bool(message.answer.sources)
        if self._sources_user_choice is None and not self.narrow:
            self.sources.display = has_sources
        await self.sources.show_answer(message.answer, self._papers)

    @on(AnswerMessage.Selected)
    async def answer_selected(self, event: AnswerMessage.Selected) -> None:
        """An answer was clicked or focused."""
        if event.message.answer is not None and event.message is not self._selected:
            await self.select_answer(event.message)

    @on(AnswerMessage.CitationChosen)
    async def citation_chosen(self, event: AnswerMessage.CitationChosen) -> None:
        """Show the chosen citation's paper in the sources panel."""
        if event.message.answer is None:
            return
        if event.message is not self._selected:
            await self.select_answer(event.message)
        self.sources.display = True
        if not self.sources.reveal(event.number):
            self.notify(
                f"[{event.number}] names no source that was given to the model.",
                severity="warning",
            )

    # -------------------------------------------------------- conversations

    async def load_conversation(self, conversation: Conversation) -> None:
        """Show a saved conversation and continue it (stopping any answer being written)."""
        if self.running:
            self.action_cancel()
            self.end_turn()
        await self.chat.clear()
        self.conversation_id = conversation.id
        last: AnswerMessage | None = None
        for turn in conversation.turns:
            await self.chat.add_user(render.turn_prompt(turn.kind, turn.question))
            label = {"answer": "Answer", "summary": "Summary"}.get(turn.kind, "Topic summary")
            title = f"{label} · {turn.model or self.model_name}"
            if turn.answer is not None:
                last = await self.chat.add_answer(title, turn.answer)
                continue
            message = await self.chat.add_answer(title)
            reason = turn.error if turn.status == "failed" else "interrupted (the app stopped)"
            await message.fail(reason or "failed")
        if last is not None:
            await self.select_answer(last)
            self.status.set_usage(last.answer)
        else:
            await self.clear_answer_selection()

    async def clear_answer_selection(self) -> None:
        self._selected = None
        await self.sources.show_answer(None, self._papers)
        if self._sources_user_choice is None or self.narrow:
            self.sources.display = False
