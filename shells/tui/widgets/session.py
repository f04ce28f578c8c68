"""`Session`: the chat's link to the `Assistant`, as a widget that posts messages.

Everything that touches the index, the model or the history store runs here in thread
workers; results come back as messages the app routes (as elia's chat widgets do). The
session opens the assistant after the first paint, follows the index (a re-ingest in
another process is noticed before each question and on focus, and the index is reopened),
streams turns, and runs the commands that need no model.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.widget import Widget

from assistant.errors import AssistantError, PaperNotFound

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.config import Settings
    from assistant.history import Conversation
    from assistant.orchestrator import Assistant
    from retrieval.models import Paper, SearchHit

AssistantFactory = Callable[["Settings"], "Assistant"]
TRASH_KEEP_S = 3600.0  # conversations deleted in the history screen can be undone this long


def _default_factory(settings: Settings) -> Assistant:
    from assistant.orchestrator import Assistant

    return Assistant(settings)


def _wrap(error: Exception, what: str) -> AssistantError:
    """An unexpected failure as one error line (the UI never shows a traceback)."""
    if isinstance(error, AssistantError):
        return error
    return AssistantError(f"{what}: {type(error).__name__}: {error}", "try `/reload`")


class Session(Widget):
    """Owns the Assistant; every call to it runs in a worker and answers with a message."""

    DEFAULT_CSS = "Session { display: none; }"

    # ---------------------------------------------------------------- messages

    class Progress(Message):
        """Indexing the seeds on first start: `done` of `total` chunks."""

        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done, self.total = done, total

    class Opened(Message):
        """The index is open (search still warming up)."""

        def __init__(self, papers: list[Paper], conversation: Conversation | None) -> None:
            super().__init__()
            self.papers, self.conversation = papers, conversation

    class Ready(Message):
        """Search is warm: questions are answered at full speed."""

        def __init__(self, size: int) -> None:
            super().__init__()
            self.size = size

    class IndexChanged(Message):
        """The index was re-ingested (here or elsewhere) and reopened."""

        def __init__(self, papers: list[Paper]) -> None:
            super().__init__()
            self.papers = papers

    class Stage(Message):
        """What turn `token` is doing (searching, waiting for the model, retrying)."""

        def __init__(self, token: object, text: str) -> None:
            super().__init__()
            self.token, self.text = token, text

    class Delta(Message):
        """Streamed text of turn `token`."""

        def __init__(self, token: object, text: str) -> None:
            super().__init__()
            self.token, self.text = token, text

    class TurnDone(Message):
        """Turn `token` finished (possibly incomplete)."""

        def __init__(self, token: object, answer: Answer) -> None:
            super().__init__()
            self.token, self.answer = token, answer

    class TurnFailed(Message):
        """Turn `token` failed before an answer came back."""

        def __init__(self, token: object, error: AssistantError) -> None:
            super().__init__()
            self.token, self.error = token, error

    class Failed(Message):
        """A command failed (`line`: what the user typed, to give back for editing)."""

        def __init__(self, error: AssistantError, title: str = "Error", line: str = "") -> None:
            super().__init__()
            self.error, self.title, self.line = error, title, line

    class Notice(Message):
        """Command output for the chat log (Markdown, and papers to list)."""

        def __init__(self, title: str, body: str, papers: Sequence[Paper] = ()) -> None:
            super().__init__()
            self.title, self.body, self.papers = title, body, list(papers)

    class Info(Message):
        """A short notification."""

        def __init__(self, text: str, title: str = "") -> None:
            super().__init__()
            self.text, self.title = text, title

    class Loaded(Message):
        """A saved conversation to show."""

        def __init__(self, conversation: Conversation) -> None:
            super().__init__()
            self.conversation = conversation

    class Models(Message):
        """The models to pick from (`/model` with no name)."""

        def __init__(self, names: list[str], current: str, pick: bool) -> None:
            super().__init__()
            self.names, self.current, self.pick = names, current, pick

    class ModelSet(Message):
        """The model in use changed."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class ExportExists(Message):
        """`/export` would overwrite `path`: ask first."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    # ---------------------------------------------------------------- state

    def __init__(self, settings: Settings, factory: AssistantFactory | None = None) -> None:
        super().__init__(id="session")
        self.settings = settings
        self.assistant: Assistant | None = None
        self.ready = threading.Event()  # set once opening ended (well or not)
        self.open_error: AssistantError | None = None
        self._factory = factory or _default_factory
        self._index_token: str | None = None
        self._follow_lock = threading.Lock()

    def _thread(self, function: Callable[..., None], *args: Any, group: str = "command") -> None:
        self.run_worker(lambda: function(*args), thread=True, group=group)

    def wait(self) -> Assistant | None:
        """Block (in a worker) until the assistant is open; None if it failed."""
        self.ready.wait()
        return self.assistant

    # ---------------------------------------------------------------- opening

    def open(self, *, resume: bool) -> None:
        """Open the assistant (indexing the seeds if the index is empty), then warm it up."""
        self._thread(self._open, resume, group="open")

    def _open(self, resume: bool) -> None:
        try:
            assistant = self._factory(self.settings)
            if assistant.corpus_size() == 0:
                assistant.ensure_index(progress=self._progress)
            self._index_token = assistant.index_revision()
            assistant.history.empty_trash(older_than_s=TRASH_KEEP_S)
            papers = assistant.papers()
            conversation = None
            last = assistant.last_viewed() if resume else None
            if last is not None:
                conversation = assistant.conversation(last)
            self.assistant = assistant
        except Exception as error:  # never crash the UI on a broken index
            self.open_error = _wrap(error, "could not open the index")
            self.ready.set()
            self.post_message(self.Failed(self.open_error, "Could not open the index"))
            return
        self.ready.set()
        self.post_message(self.Opened(papers, conversation))
        self._warn_if_incomplete(assistant)
        try:
            from retrieval.tokens import count_tokens

            assistant.warm_up()
            count_tokens("warm up")
        except AssistantError:
            pass  # the first question reports it
        self.post_message(self.Ready(len(papers)))

    def _progress(self, done: int, total: int) -> None:
        self.post_message(self.Progress(done, total))

    # ---------------------------------------------------------------- the index

    def follow_index(
        self, *, force: bool = False, on_reload: Callable[[], object] | None = None
    ) -> None:
        """Reopen the index when another process re-ingested it (in the calling worker)."""
        assistant = self.assistant
        if assistant is None:
            return
        with self._follow_lock:
            token = assistant.index_revision()
            if token == self._index_token and not force:
                return
            if on_reload is not None:
                on_reload()
            assistant.reload()
            self._index_token = token
            papers = assistant.papers()
        self.post_message(self.IndexChanged(papers))
        self._warn_if_incomplete(assistant)

    def _warn_if_incomplete(self, assistant: Assistant) -> None:
        """An ingest running or interrupted elsewhere: say so once (answers may miss papers)."""
        with contextlib.suppress(AssistantError):
            status = assistant.index_status()
            if status.message and status.state != "damaged":  # a damaged store fails reads
                self.post_message(self.Info(f"warning: {status.message}", "Index"))

    def _reopen_quietly(self) -> None:
        with contextlib.suppress(Exception):  # still broken: the next question says so
            self.follow_index(force=True)

    def check_index(self, *, force: bool = False) -> None:
        """`follow_index` in a worker (on focus, `/reload`)."""
        self._thread(self._check_index, force)

    def _check_index(self, force: bool) -> None:
        if self.wait() is None:
            if force:  # `/reload` after the index could not be opened: try again
                self._open(resume=False)
            return
        try:
            self.follow_index(force=force)
        except Exception as error:
            self.post_message(self.Failed(_wrap(error, "could not reload the index"), "Index"))
            return
        if force:
            self.post_message(self.Info("The index was reloaded.", "Index"))

    # ---------------------------------------------------------------- turns

    def turn(
        self,
        token: object,
        kind: str,
        arg: str,
        conversation_id: str | None,
        cancel: threading.Event,
    ) -> None:
        """Ask (`kind` "ask"), summarize a paper ("summarize") or a topic ("topic")."""
        self._thread(self._turn, token, kind, arg, conversation_id, cancel, group="turn")

    def _turn(
        self,
        token: object,
        kind: str,
        arg: str,
        conversation_id: str | None,
        cancel: threading.Event,
    ) -> None:
        if not self.ready.is_set():
            self.post_message(self.Stage(token, "opening the index…"))
        assistant = self.wait()
        if assistant is None:
            error = self.open_error or AssistantError("the index is not open")
            self.post_message(self.TurnFailed(token, error))
            return

        def on_delta(delta: str) -> None:
            if not self.post_message(self.Delta(token, delta)):
                cancel.set()  # the app is closing

        try:
            self.follow_index(
                on_reload=lambda: self.post_message(self.Stage(token, "reopening the index…"))
            )
            self.post_message(self.Stage(token, "searching the papers…"))
            method = {
                "ask": assistant.ask,
                "summarize": assistant.summarize,
                "topic": assistant.summarize_topic,
            }[kind]
            kwargs: dict[str, Any] = {"on_delta": on_delta, "cancel": cancel}
            if "on_status" in inspect.signature(method).parameters:
                kwargs["on_status"] = lambda text: self.post_message(self.Stage(token, text))
            answer = method(arg, conversation_id=conversation_id, **kwargs)
        except Exception as error:  # an unexpected bug must not take the UI down
            if not isinstance(error, AssistantError):
                self._reopen_quietly()  # e.g. the collection was replaced mid-turn
            self.post_message(self.TurnFailed(token, _wrap(error, "the turn failed")))
        else:
            self.post_message(self.TurnDone(token, answer))

    # ---------------------------------------------------------------- commands

    def run(self, command: str, *args: Any, line: str = "") -> None:
        """Run `_cmd_<command>(assistant, *args)` in a worker once the index is open."""
        self._thread(self._run, command, args, line)

    def _run(self, command: str, args: tuple[Any, ...], line: str) -> None:
        assistant = self.wait()
        if assistant is None:
            error = self.open_error or AssistantError("the index is not open")
            self.post_message(self.Failed(error, line=line))
            return
        try:
            if command in ("papers", "search"):
                self.follow_index()
            getattr(self, f"_cmd_{command}")(assistant, *args)
        except Exception as error:
            self.post_message(self.Failed(_wrap(error, f"/{command} failed"), line=line))

    def _cmd_papers(self, assistant: Assistant, needle: str) -> None:
        from shells.tui.render import select_papers

        title, papers, footer = select_papers(assistant.papers(), needle)
        self.post_message(self.Notice(title, footer, papers))

    def _cmd_search(self, assistant: Assistant, query: str) -> None:
        from shells.tui.render import search_notice

        hits: list[SearchHit] = assistant.search(query, k=8)
        self.post_message(self.Notice(*search_notice(query, hits)))

    def _cmd_export(
        self, assistant: Assistant, conversation_id: str, target: Path, overwrite: bool
    ) -> None:
        if not target.parent.is_dir():
            raise AssistantError(
                f"the folder {target.parent} does not exist", "create it first, or pick another"
            )
        if target.exists() and not overwrite:
            self.post_message(self.ExportExists(target))
            return
        text = assistant.export_markdown(conversation_id)
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as error:
            raise AssistantError(f"could not write {target}: {error.strerror}") from error
        self.post_message(self.Info(f"Exported to {target}", "Export"))

    def _cmd_models(self, assistant: Assistant, pick: bool) -> None:
        try:
            names = assistant.list_models()
        except AssistantError as error:  # the endpoint is down: offline is still there
            if not pick:
                return  # a background refresh of completion: nothing to say
            self.post_message(self.Failed(error, "Models"))
            names = ["offline"]
        self.post_message(self.Models(names, assistant.model_name, pick))

    def _cmd_set_model(self, assistant: Assistant, name: str) -> None:
        assistant.set_model(name)
        self.post_message(self.ModelSet(assistant.model_name))

    def _cmd_resume(self, assistant: Assistant, conversation_id: str) -> None:
        conversation = assistant.conversation(conversation_id)
        assistant.mark_viewed(conversation_id)
        self.post_message(self.Loaded(conversation))

    def _cmd_viewed(self, assistant: Assistant, conversation_id: str) -> None:
        assistant.mark_viewed(conversation_id)


def candidates_of(error: AssistantError) -> list[Paper]:
    """The "did you mean" papers of a failed `/summarize` (empty for other errors)."""
    return list(error.candidates) if isinstance(error, PaperNotFound) else []
