"""`ra chat`: the Textual app, a thin layer over `assistant.orchestrator.Assistant`.

The assistant (and the index behind it: chromadb takes most of a second to import) is
opened in a thread worker after the first paint. Questions asked before it is ready wait
for it. Every model call runs in a thread worker and streams deltas back with
`call_from_thread`; errors become notifications and never end the app.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input

from assistant.errors import AssistantError
from shells.tui import actions, commands
from shells.tui.chat import AnswerMessage, ChatLog
from shells.tui.help import HelpScreen
from shells.tui.history import HistoryScreen
from shells.tui.palette import PaperCommands
from shells.tui.prompt import PromptInput
from shells.tui.slash import CompletionSource, SlashCommand, SlashError, is_command, parse
from shells.tui.sources import SourcesPanel
from shells.tui.status import StatusBar
from shells.tui.theme import DARK, choose_theme

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.config import Settings
    from assistant.history import Conversation
    from assistant.orchestrator import Assistant
    from retrieval.models import Paper

AssistantFactory = Callable[["Settings"], "Assistant"]


def _default_factory(settings: Settings) -> Assistant:
    from assistant.orchestrator import Assistant

    return Assistant(settings)


def _warm_up(assistant: Assistant) -> None:
    """Load the embedding model, the search structures and the tokenizer before the first
    question, so that it is answered as fast as the later ones."""
    from retrieval.tokens import count_tokens

    assistant.search("warm up", k=1)
    count_tokens("warm up")


class ResearchApp(App[None]):
    """The chat UI: chat log, sources panel, input line, status line and footer."""

    TITLE = "Research assistant"
    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (App declares it without ClassVar)
        (0, "-narrow"),
        (110, "-wide"),
    ]
    COMMANDS = App.COMMANDS | {PaperCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_chat", "New"),
        Binding("ctrl+l", "focus_input", "Input"),
        Binding("ctrl+b", "toggle_sources", "Sources"),
        Binding("ctrl+r", "history", "History"),
        Binding("ctrl+y", "copy_answer", "Copy"),
        Binding("escape", "cancel", "Stop"),
        Binding("f1", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

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
        self.assistant: Assistant | None = None
        self.conversation_id: str | None = None
        self.completion = CompletionSource()
        self._factory = assistant_factory or _default_factory
        self._resume = resume
        self._show_timings = show_timings
        self._theme_name = theme or choose_theme()
        self._assistant_ready = threading.Event()
        self._open_error: AssistantError | None = None
        self._papers: dict[str, Paper] = {}
        self._cancel: threading.Event | None = None
        self._selected: AnswerMessage | None = None
        self._sources_user_choice: bool | None = None

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        # Kept as attributes: worker threads reach them without querying the DOM.
        self.chat = ChatLog(id="chat")
        self.sources = SourcesPanel(id="sources")
        self.prompt = PromptInput(self.completion, id="prompt")
        self.status = StatusBar(show_timings=self._show_timings, id="status")
        with Horizontal(id="main"):
            yield self.chat
            yield self.sources
        yield self.prompt
        yield self.status
        yield Footer()

    def on_mount(self) -> None:
        self.theme = self._theme_name if self._theme_name in self.available_themes else DARK
        self.status.set_model(self.settings.resolved_model)
        self.sources.display = self.size.width >= 110
        self.prompt.focus()
        # Open the index only once the first frame is on screen.
        self.call_after_refresh(self.open_assistant)

    @property
    def paper_list(self) -> list[Paper]:
        """Every indexed paper (empty until the index is open)."""
        return list(self._papers.values())

    @property
    def model_name(self) -> str:
        """The model in use."""
        return self.assistant.model_name if self.assistant else self.settings.resolved_model

    @property
    def running(self) -> bool:
        """True while an answer is being written."""
        return self._cancel is not None

    # ------------------------------------------------------ opening the index

    @work(thread=True, exclusive=True, group="open")
    def open_assistant(self) -> None:
        """Open the assistant (indexing the seeds if the index is empty), then warm it up."""
        try:
            assistant = self._factory(self.settings)
            size = assistant.corpus_size()
            if size == 0:
                assistant.ensure_index(progress=self._index_progress)
                size = assistant.corpus_size()
            papers = assistant.papers()
            conversation = None
            if self._resume:
                infos = assistant.conversations()
                if infos:
                    conversation = assistant.conversation(infos[0].id)
            self.assistant = assistant
            self.call_ui(self._opened, assistant, size, papers, conversation)
            _warm_up(assistant)
            self.call_ui(self.status.set_corpus, size)
        except AssistantError as error:
            self._open_error = error
            self.call_ui(self._open_failed, error)
        except Exception as error:  # never crash the UI on a broken index
            wrapped = AssistantError(f"could not open the index: {error}", "try `ra ingest`")
            self._open_error = wrapped
            self.call_ui(self._open_failed, wrapped)
        finally:
            self._assistant_ready.set()

    def _index_progress(self, done: int, total: int) -> None:
        self.call_ui(self.status.show_progress, done, total)

    async def _opened(
        self,
        assistant: Assistant,
        size: int,
        papers: list[Paper],
        conversation: Conversation | None,
    ) -> None:
        self._papers = {paper.paper_id: paper for paper in papers}
        self.completion.papers = sorted({p.title for p in papers} | {p.paper_id for p in papers})
        self.completion.models = actions.model_names(assistant.model_name)
        self.status.hide_progress()
        self.status.set_corpus(size, note=f"{size} papers · loading search…")
        self.status.set_model(assistant.model_name)
        if conversation is not None and not self.running and not self.chat.answers:
            await self.load_conversation(conversation)

    def _open_failed(self, error: AssistantError) -> None:
        self.status.hide_progress()
        self.status.set_corpus(None, note="index unavailable")
        self.notify_error(error, title="Could not open the index")

    def wait_ready(self) -> Assistant | None:
        """Block (in a worker thread) until the assistant is open; None if it failed."""
        self._assistant_ready.wait()
        return self.assistant

    # ------------------------------------------------------------- the input

    @on(Input.Submitted, "#prompt")
    async def submitted(self, event: Input.Submitted) -> None:
        """A question or a slash command."""
        text = event.value.strip()
        if not text:
            return
        if self.running:
            self.notify("An answer is being written: press Escape to stop it.", severity="warning")
            return
        if not is_command(text):
            self.prompt.value = ""
            await self.start_turn(text, "ask", text)
            return
        try:
            command = parse(text)
        except SlashError as error:
            self.notify(str(error), title="Command", severity="error")
            return
        self.prompt.value = ""
        await self.run_command(command, text)

    async def run_command(self, command: SlashCommand, line: str) -> None:
        """Dispatch a parsed slash command."""
        if command.name == "summarize":
            await self.start_turn(line, "summarize", command.arg)
        elif command.name == "papers":
            await self.chat.add_user(line)
            self._in_thread(commands.papers, command.arg)
        elif command.name == "search":
            await self.chat.add_user(line)
            self._in_thread(commands.search, command.arg)
        elif command.name == "new":
            await self.action_new_chat()
        elif command.name == "history":
            self.action_history()
        elif command.name == "export":
            self.export_conversation(command.arg)
        elif command.name == "model":
            self._in_thread(commands.switch_model, command.arg)
        elif command.name == "help":
            self.action_help()

    # ---------------------------------------------------------------- turns

    async def start_turn(self, shown: str, kind: str, arg: str) -> None:
        """Show the user's line and an empty answer, then run the turn in a worker."""
        await self.chat.add_user(shown)
        title = f"{'Summary' if kind == 'summarize' else 'Answer'} · {self.model_name}"
        message = await self.chat.add_answer(title)
        self._cancel = threading.Event()
        self.refresh_bindings()
        self.run_turn(message, kind, arg, shown, self._cancel)

    @work(thread=True, group="turn")
    def run_turn(
        self, message: AnswerMessage, kind: str, arg: str, shown: str, cancel: threading.Event
    ) -> None:
        """Ask or summarize, streaming into `message`."""
        assistant = self.wait_ready()
        if assistant is None:
            error = self._open_error or AssistantError("the index is not open")
            self.call_ui(self._turn_failed, message, shown, error)
            return

        write: Callable[[str], Any] = message.write

        def on_delta(delta: str) -> None:
            try:
                self.call_from_thread(write, delta)
            except RuntimeError:  # the app is closing
                cancel.set()

        try:
            if kind == "summarize":
                answer = assistant.summarize(
                    arg, conversation_id=self.conversation_id, on_delta=on_delta, cancel=cancel
                )
            else:
                answer = assistant.ask(
                    arg, conversation_id=self.conversation_id, on_delta=on_delta, cancel=cancel
                )
        except AssistantError as error:
            self.call_ui(self._turn_failed, message, shown, error)
        except Exception as error:  # an unexpected bug must not take the UI down
            wrapped = AssistantError(f"{type(error).__name__}: {error}", "this is a bug")
            self.call_ui(self._turn_failed, message, shown, wrapped)
        else:
            self.call_ui(self._turn_done, message, answer, shown)

    def call_ui(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """`call_from_thread` that tolerates the app having exited."""
        with contextlib.suppress(RuntimeError):
            self.call_from_thread(callback, *args, **kwargs)

    async def _turn_done(self, message: AnswerMessage, answer: Answer, shown: str) -> None:
        cancelled = self._cancel is not None and self._cancel.is_set()
        if answer.conversation_id:
            self.conversation_id = answer.conversation_id
        try:
            await message.finish(answer)
            await self.select_answer(message)
            self.status.set_usage(answer)
            if answer.error and not cancelled:
                self.notify(answer.error, title="The answer was cut short", severity="error")
                self.restore_input(shown)
        finally:
            self._end_turn()

    async def _turn_failed(self, message: AnswerMessage, shown: str, error: AssistantError) -> None:
        try:
            await message.fail(error.display())
            self.notify_error(error)
            self.restore_input(shown)
        finally:
            self._end_turn()

    def _end_turn(self) -> None:
        self._cancel = None
        self.refresh_bindings()

    def restore_input(self, text: str) -> None:
        """Put `text` back in the input line (unless the user typed something new)."""
        if not self.prompt.value:
            self.prompt.value = text
            self.prompt.cursor_position = len(text)
        self.prompt.focus()

    def notify_error(self, error: AssistantError, *, title: str = "Error") -> None:
        """A notification with the error and how to fix it."""
        text = error.message + (f"\n{error.hint}" if error.hint else "")
        self.notify(text, title=title, severity="error", timeout=10)

    def summarize_paper(self, paper_id: str) -> None:
        """Summarize one paper (from the command palette)."""
        if self.running:
            self.notify("An answer is being written: press Escape to stop it.", severity="warning")
            return
        self.run_worker(self.start_turn(f"/summarize {paper_id}", "summarize", paper_id))

    # -------------------------------------------------------- sources panel

    async def select_answer(self, message: AnswerMessage) -> None:
        """Mark `message` selected and show its sources."""
        if self._selected is not None and self._selected is not message:
            self._selected.remove_class("-selected")
        self._selected = message
        message.add_class("-selected")
        if message.answer is not None and self._sources_user_choice is None:
            self.sources.display = True
        await self.sources.show_answer(message.answer, self._papers)

    @on(AnswerMessage.Selected)
    async def answer_selected(self, event: AnswerMessage.Selected) -> None:
        """An answer was clicked or focused."""
        if event.message.answer is not None and event.message is not self._selected:
            await self.select_answer(event.message)

    @on(AnswerMessage.CitationChosen)
    async def citation_chosen(self, event: AnswerMessage.CitationChosen) -> None:
        """Show the chosen citation's paper in the sources panel."""
        answer = event.message.answer
        if answer is None:
            return
        if event.message is not self._selected:
            await self.select_answer(event.message)
        self.sources.display = True
        if not self.sources.reveal(event.number):
            self.notify(
                f"[{event.number}] names no source that was given to the model.",
                severity="warning",
            )

    # ---------------------------------------------------------- commands

    # -------------------------------------------------------- conversations

    async def load_conversation(self, conversation: Conversation) -> None:
        """Show a saved conversation and continue it."""
        await self.chat.clear()
        self.conversation_id = conversation.id
        last: AnswerMessage | None = None
        for turn in conversation.turns:
            await self.chat.add_user(actions.turn_prompt(turn.kind, turn.question))
            label = "Answer" if turn.kind == "answer" else "Summary"
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
            self._selected = None
            await self.sources.show_answer(None, self._papers)

    async def action_new_chat(self) -> None:
        """Start a new conversation."""
        if self.running:
            self.action_cancel()
        self.conversation_id = None
        self._selected = None
        await self.chat.clear()
        await self.sources.show_answer(None, self._papers)
        self.status.set_usage(None)
        self.prompt.focus()

    def action_history(self) -> None:
        """Open the history screen."""
        if self.assistant is None:
            self.notify("The index is still opening; try again in a moment.")
            return
        self.push_screen(HistoryScreen(self.assistant, self.conversation_id), self._history_done)

    async def _history_done(self, conversation_id: str | None) -> None:
        if self.assistant is None:
            return
        if conversation_id is None:
            if self.conversation_id and not self._conversation_exists(self.conversation_id):
                await self.action_new_chat()
            return
        self.resume(conversation_id)

    def _conversation_exists(self, conversation_id: str) -> bool:
        assert self.assistant is not None
        return any(info.id == conversation_id for info in self.assistant.conversations())

    def resume(self, conversation_id: str) -> None:
        """Load a saved conversation (in a worker: the store is SQLite)."""
        self._in_thread(commands.resume, conversation_id)

    def export_conversation(self, path: str = "") -> None:
        """Write the conversation to a Markdown file."""
        self._in_thread(commands.export, path)

    def _in_thread(self, function: Callable[..., None], *args: Any) -> None:
        """Run `function(self, *args)` in a thread worker."""
        self.run_worker(partial(function, self, *args), thread=True, group="command")

    # --------------------------------------------------------------- actions

    def action_focus_input(self) -> None:
        """Focus the input line."""
        self.prompt.focus()

    def action_toggle_sources(self) -> None:
        """Show or hide the sources panel."""
        self.sources.display = not self.sources.display
        self._sources_user_choice = bool(self.sources.display)

    def action_copy_answer(self) -> None:
        """Copy the last answer (with its references) to the clipboard."""
        answers = [m.answer for m in self.chat.answers if m.answer is not None]
        if not answers:
            self.notify("No answer to copy yet.")
            return
        self.copy_to_clipboard(actions.answer_as_text(answers[-1]))
        self.notify("Copied the last answer to the clipboard.")

    def action_cancel(self) -> None:
        """Stop the answer being written (it is kept, marked incomplete)."""
        if self._cancel is not None:
            self._cancel.set()

    def action_help(self) -> None:
        """Show the help screen."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape only means "stop" while an answer is being written."""
        if action == "cancel":
            return self.running
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette's commands: the app's actions first, then Textual's."""
        yield SystemCommand("New chat", "Start a new conversation", self.action_new_chat)
        yield SystemCommand("History", "Resume or delete a conversation", self.action_history)
        yield SystemCommand(
            "Toggle sources", "Show or hide the sources panel", self.action_toggle_sources
        )
        yield SystemCommand("Copy last answer", "Copy it to the clipboard", self.action_copy_answer)
        yield SystemCommand(
            "Focus input", "Move the cursor to the input line", self.action_focus_input
        )
        yield SystemCommand(
            "Export conversation",
            "Write it to a Markdown file",
            lambda: self.export_conversation(""),
        )
        yield SystemCommand("Help", "Commands, keys and notes", self.action_help)
        if self.running:
            yield SystemCommand("Stop answer", "Stop the answer being written", self.action_cancel)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        """Stop any running answer, then quit (turns are already saved)."""
        self.action_cancel()
        self.exit()
