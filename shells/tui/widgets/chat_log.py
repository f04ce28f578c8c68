"""The chat log and its messages: the user's turns, streamed answers, command output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widgets import Label, Markdown, Static

from shells.tui.citations import (
    SUPPORT_LEGEND,
    MarkerStream,
    cite_number,
    linkify,
    mark_support,
)
from shells.tui.render import break_id

if TYPE_CHECKING:
    from textual.widgets.markdown import MarkdownStream

    from assistant.answer import Answer
    from retrieval.models import Paper

WELCOME = """\
## Ask the papers

Type a question and press **Enter**. Answers cite the papers they use, like **[1]**; \
click a marker (or focus a cited paper under the answer and press **Enter**) to open it in \
the sources panel.

Type **/** for commands: `/summarize`, `/papers`, `/search`, `/history`, `/help`. \
**ctrl+j** starts a new line; **↑** recalls earlier questions.
"""


PENDING = "searching the papers…"


class UserMessage(Static):
    """A question (or command) the user sent."""

    def __init__(self, text: str) -> None:
        super().__init__(Content(text), classes="message")


class PaperEntry(Static):
    """A listed paper: its title and year, then its full id (broken only after a hyphen)."""

    def __init__(self, paper: Paper) -> None:
        super().__init__(classes="paper")
        self.paper = paper

    def _lines(self, width: int) -> list[str]:
        return break_id(self.paper.paper_id, width - 2)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._title(width).wrap(width)) + len(self._lines(width))

    def _title(self, width: int) -> Content:
        year = f" ({self.paper.year})" if self.paper.year else ""
        return Content.from_markup("• [b]$t[/b]$y", t=self.paper.title, y=year)

    def render(self) -> Content:
        width = self.content_region.width or 80
        ids = "\n".join(f"  {line}" for line in self._lines(width))
        return self._title(width) + Content("\n") + Content.styled(ids, "dim")


class NoticeMessage(Vertical):
    """Output of a slash command: search hits as Markdown, or a list of papers."""

    def __init__(self, title: str, body: str, papers: Sequence[Paper] = ()) -> None:
        super().__init__(classes="message")
        self._title = title
        self._body = body
        self._papers = list(papers)

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="meta")
        for paper in self._papers:
            yield PaperEntry(paper)
        if self._body:
            yield Markdown(self._body)

    @property
    def text(self) -> str:
        """Everything shown, as plain text (titles, ids, the Markdown source)."""
        papers = [f"{p.title} ({p.year}) {p.paper_id}" for p in self._papers]
        return "\n".join([self._title, *papers, self._body])


class CitationLine(Static, can_focus=True):
    """One cited paper under an answer; Enter or a click shows it in the sources panel."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "choose", "Show source", show=False)]

    def __init__(self, number: int, label: str, *, invalid: bool = False) -> None:
        super().__init__(classes="-invalid" if invalid else "")
        self.number = number
        self.label = label
        self.invalid = invalid

    def render(self) -> Content:
        if self.invalid:
            return Content.from_markup(
                "⚠ [b]\\[$n][/b] names no source given to the model", n=str(self.number)
            )
        return Content.from_markup("[b]\\[$n][/b] $label", n=str(self.number), label=self.label)

    def action_choose(self) -> None:
        """Ask the app to show this source."""
        for node in self.ancestors:
            if isinstance(node, AnswerMessage):
                self.post_message(AnswerMessage.CitationChosen(node, self.number))
                return

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_choose()


class AnswerMessage(Vertical, can_focus=True):
    """An answer: streamed Markdown, the papers it cites, and flags (cut short, bad markers)."""

    class Selected(Message):
        """The user selected this answer (its sources should be shown)."""

        def __init__(self, message: AnswerMessage) -> None:
            super().__init__()
            self.message = message

    class CitationChosen(Message):
        """The user chose citation `number` of this answer."""

        def __init__(self, message: AnswerMessage, number: int) -> None:
            super().__init__()
            self.message = message
            self.number = number

    def __init__(self, title: str, *, answer: Answer | None = None) -> None:
        super().__init__(classes="message")
        self.title = title
        self.answer: Answer | None = answer
        self.text = ""
        self.running = answer is None
        self._markers = MarkerStream()
        self._stream: MarkdownStream | None = None
        self._pending: Label | None = None
        if answer is None:
            self._pending = Label(PENDING, classes="pending")
        self._markdown = Markdown(open_links=False)
        self._refs = Vertical(classes="refs")
        self._flags = Label("", classes="flags")
        self._note = Label("", classes="note")

    def compose(self) -> ComposeResult:
        yield Label(self.title, classes="meta")
        if self._pending is not None:
            yield self._pending
        yield self._markdown
        yield self._refs
        yield self._note
        yield self._flags

    async def _drop_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending.remove()

    async def on_mount(self) -> None:
        if self.answer is not None:
            await self.finish(self.answer)

    def set_stage(self, text: str) -> None:
        """What the turn is doing now (shown until the first words arrive)."""
        if self._pending is not None:
            self._pending.update(text)

    async def write(self, delta: str) -> None:
        """Append a streamed delta (citation markers become links as they complete)."""
        if self._stream is None:
            await self._drop_pending()
            self._stream = Markdown.get_stream(self._markdown)
        self.text += delta
        fragment = self._markers.feed(delta)
        if fragment:
            await self._stream.write(fragment)

    async def finish(self, answer: Answer) -> None:
        """Show the final answer: markers checked, cited papers listed, flags set."""
        self.answer = answer
        self.running = False
        await self._stop_stream()
        self.text = answer.answer
        marked, any_marked = mark_support(answer.answer, answer.support)
        await self._markdown.update(linkify(marked, set(answer.invalid_citations)))
        self._show_note(answer, any_marked)
        await self._show_refs(answer)
        self._show_flags(answer)

    async def fail(self, message: str, hint: str | None = None) -> None:
        """The turn failed before any answer came back (shown here, and only here)."""
        self.running = False
        await self._stop_stream()
        text = Content.from_markup("⚠ $m", m=message)
        if hint:
            text += Content.from_markup("\n[dim]$h[/dim]", h=hint)
        self._flags.update(text)
        self._flags.add_class("-error")
        self.add_class("-failed")

    async def _stop_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        await self._drop_pending()

    async def _show_refs(self, answer: Answer) -> None:
        refs = self._refs
        await refs.remove_children()
        titles = {s.number: s for s in answer.sources}
        lines: list[CitationLine] = []
        seen: set[int] = set()
        for citation in answer.citations:
            if citation.marker in seen:
                continue
            seen.add(citation.marker)
            source = titles.get(citation.marker)
            year = f" ({source.year})" if source and source.year else ""
            lines.append(CitationLine(citation.marker, f"{citation.title}{year}"))
        lines.sort(key=lambda line: line.number)
        lines += [CitationLine(n, "", invalid=True) for n in sorted(set(answer.invalid_citations))]
        await refs.mount_all(lines)

    def _show_note(self, answer: Answer, marked: bool) -> None:
        """A dim line: extractive answers say so; the legend when a sentence is marked."""
        notes: list[str] = []
        if answer.answer_mode == "extractive" and answer.answer.strip():
            notes.append("extractive answer (no model configured)")
        if marked:
            notes.append(SUPPORT_LEGEND)
        self._note.update(Content(" · ".join(notes)))
        self._note.set_class(bool(notes), "-shown")

    def _show_flags(self, answer: Answer) -> None:
        flags = self._flags
        notes: list[str] = []
        if answer.incomplete:
            reason = answer.error or "stopped before the model finished"
            notes.append(f"⏹ Incomplete answer: {reason}")
        if answer.invalid_citations:
            bad = ", ".join(f"[{n}]" for n in answer.invalid_citations)
            notes.append(f"⚠ Invalid citation {bad}: no such source was given")
        flags.update(Content("\n".join(notes)))
        flags.set_class(bool(notes), "-shown")
        self.set_class(answer.incomplete, "-incomplete")

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        number = cite_number(event.href)
        if number is None:
            self.app.open_url(event.href)
        else:
            self.post_message(self.CitationChosen(self, number))

    def on_focus(self) -> None:
        self.post_message(self.Selected(self))

    def on_click(self) -> None:
        self.post_message(self.Selected(self))


class ChatLog(VerticalScroll):
    """The scrolling conversation; keeps to the bottom while an answer streams."""

    def compose(self) -> ComposeResult:
        yield Markdown(WELCOME, id="welcome")

    async def clear(self) -> None:
        """Remove every message and show the welcome text again."""
        await self.remove_children()
        await self.mount(Markdown(WELCOME, id="welcome"))

    async def _add(self, widget: UserMessage | AnswerMessage | NoticeMessage) -> None:
        for welcome in self.query("#welcome"):
            await welcome.remove()
        await self.mount(widget)
        self.anchor()

    async def add_user(self, text: str) -> UserMessage:
        """Append the user's message."""
        message = UserMessage(text)
        await self._add(message)
        return message

    async def add_answer(self, title: str, answer: Answer | None = None) -> AnswerMessage:
        """Append an answer: streaming when `answer` is None, else final."""
        message = AnswerMessage(title, answer=answer)
        await self._add(message)
        return message

    async def add_notice(
        self, title: str, body: str, papers: Sequence[Paper] = ()
    ) -> NoticeMessage:
        """Append command output."""
        message = NoticeMessage(title, body, papers)
        await self._add(message)
        return message

    @property
    def answers(self) -> list[AnswerMessage]:
        """The answers in the log, oldest first."""
        return list(self.query(AnswerMessage))
