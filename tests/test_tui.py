"""The chat UI (`ra chat`) driven with Textual's Pilot over the real Assistant and seed index."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import DataTable, Markdown

from assistant.config import Settings
from assistant.history import HistoryStore
from assistant.orchestrator import Assistant
from shells.tui import render
from shells.tui.app import ResearchApp
from shells.tui.citations import MarkerStream, cite_number, linkify
from shells.tui.screens.help import HelpScreen
from shells.tui.screens.history import HistoryScreen
from shells.tui.slash import CompletionSource, SlashError, complete, parse
from shells.tui.theme import DARK, LIGHT, background_is_light, choose_theme
from shells.tui.widgets.chat_log import AnswerMessage, CitationLine, NoticeMessage, UserMessage
from shells.tui.widgets.sources import SourceItem

QUESTION = "What is X-Teaming?"
pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------- helpers


def make_app(settings: Settings, index: Any, history_home: Path, **kwargs: Any) -> ResearchApp:
    """The app over the shared seed index and a per-test conversation store."""

    def factory(s: Settings) -> Assistant:
        return Assistant(s, index=index, history=HistoryStore.for_home(history_home))

    kwargs.setdefault("resume", False)
    kwargs.setdefault("theme", DARK)
    # UI state (recalled inputs, theme) goes to the per-test home, not the shared seed home.
    settings = settings.model_copy(update={"home": history_home})
    return ResearchApp(settings, assistant_factory=factory, **kwargs)


async def until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 60) -> None:
    """Let the app run until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


async def ready(pilot: Pilot[Any]) -> ResearchApp:
    """Wait until the assistant is open and warmed up."""
    app = pilot.app
    assert isinstance(app, ResearchApp)
    await until(pilot, app.session.ready.is_set)
    await pilot.pause()
    return app


def last_answer(app: ResearchApp) -> AnswerMessage:
    return app.chat.answers[-1]


async def submit(pilot: Pilot[Any], text: str) -> None:
    app = pilot.app
    assert isinstance(app, ResearchApp)
    app.prompt.focus()
    app.prompt.value = text
    await pilot.press("enter")
    await pilot.pause()


async def ask(pilot: Pilot[Any], text: str) -> AnswerMessage:
    """Submit `text` and wait for its answer to finish."""
    app = pilot.app
    assert isinstance(app, ResearchApp)
    before = len(app.chat.answers)
    await submit(pilot, text)
    await until(pilot, lambda: len(app.chat.answers) > before)

    def finished() -> bool:
        # `running` clears only after the answer, sources panel and notifications are shown.
        last = last_answer(app)
        return (last.answer is not None or "-failed" in last.classes) and not app.running

    await until(pilot, finished)
    return last_answer(app)


def notifications(app: ResearchApp) -> list[tuple[str, str]]:
    return [(n.message, n.severity) for n in app._notifications]


# -------------------------------------------------------------- pure helpers


def test_parse_slash_commands() -> None:
    assert parse("/summarize  WildGuard ").arg == "WildGuard"
    assert parse("/papers").name == "papers"
    assert parse("/pap safety").name == "papers"  # unique prefix
    assert parse("/HELP").name == "help"
    with pytest.raises(SlashError, match="usage"):
        parse("/search")
    with pytest.raises(SlashError, match="unknown command"):
        parse("/frobnicate")
    with pytest.raises(SlashError, match="takes no argument"):
        parse("/new please")


def test_completion() -> None:
    source = CompletionSource(papers=["WildGuard: Open One-Stop Moderation"], models=["offline"])
    assert complete("/su", source) == "/summarize "
    assert complete("/summarize wild", source) == "/summarize wildGuard: Open One-Stop Moderation"
    assert complete("/model off", source) == "/model offline"
    assert complete("/new", source) is None
    assert complete("plain question", source) is None
    assert complete("/summarize ", source) is None


def test_linkify_markers() -> None:
    assert linkify("see [2].") == "see [\\[2\\]](cite:2)."
    assert linkify("both [1, 3]") == "both \\[[1](cite:1), [3](cite:3)\\]"
    assert "~~9~~ ⚠" in linkify("bad [9]", invalid={9})
    assert cite_number("cite:4") == 4
    assert cite_number("https://arxiv.org") is None


def test_marker_stream_never_splits_a_marker() -> None:
    stream = MarkerStream()
    pieces = [stream.feed(d) for d in ["X-Teaming is a framework [", "1", "]. More [2", ", 3] end"]]
    pieces.append(stream.flush())
    assert "".join(pieces) == linkify("X-Teaming is a framework [1]. More [2, 3] end")
    assert pieces[0] == "X-Teaming is a framework "


def test_theme_choice() -> None:
    assert choose_theme({"RA_THEME": "light"}) == LIGHT
    assert choose_theme({"RA_THEME": "nord"}) == "nord"
    assert choose_theme({"COLORFGBG": "0;15"}) == LIGHT
    assert choose_theme({"COLORFGBG": "15;default;0"}) == DARK
    assert choose_theme({}) == DARK
    assert background_is_light("garbage") is None


def test_papers_notice_filters(seed_index: Any) -> None:
    title, papers, _footer = render.select_papers(seed_index.papers(), "wildguard")
    assert title.startswith("1 papers") or title.startswith("2 papers")
    assert any("WildGuard" in p.title for p in papers)


# ---------------------------------------------------------------- the app


async def test_ask_streams_cited_answer_and_fills_sources(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert "papers" in str(app.status.query_one("#status-corpus").render())
        message = await ask(pilot, QUESTION)
        answer = message.answer
        assert answer is not None and answer.citations and not answer.invalid_citations
        assert isinstance(app.chat.query(UserMessage).last(), UserMessage)
        markdown = message.query_one(Markdown)
        assert "(cite:1)" in markdown.source
        # The sources panel shows this answer's sources, the cited one highlighted.
        items = list(app.sources.query(SourceItem))
        assert len(items) == len(answer.sources)
        cited = [item for item in items if "-cited" in item.classes]
        assert [item.number for item in cited] == sorted({c.marker for c in answer.citations})
        assert "X-Teaming" in answer.sources[0].title
        # Choosing the citation under the answer opens that paper in the panel.
        line = message.query(CitationLine).first()
        line.focus()
        await pilot.press("enter")
        await pilot.pause()
        opened = [item for item in app.sources.query(SourceItem) if not item.collapsed]
        assert [item.number for item in opened] == [line.number]
        # So does clicking a marker in the text (a `cite:N` link).
        app.sources.reveal(0)  # collapse all
        markdown.post_message(Markdown.LinkClicked(markdown, "cite:1"))
        await until(pilot, lambda: any(not i.collapsed for i in app.sources.query(SourceItem)))
        # The status line shows tokens.
        assert "tok" in str(app.status.query_one("#status-usage").render())
        # Copy last answer.
        await pilot.press("ctrl+y")
        assert any("Copied" in m for m, _ in notifications(app))


async def test_streaming_shows_text_before_the_end_and_escape_cancels(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    settings = seed_settings.model_copy(update={"model": "offline:slow"})
    app = make_app(settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await submit(pilot, QUESTION)
        await until(pilot, lambda: app.chat.answers and last_answer(app).text.strip())
        message = last_answer(app)
        assert message.running and app.running
        streamed = message.query_one(Markdown).source
        assert streamed  # text is on screen while the model is still writing
        await pilot.press("escape")
        await until(pilot, lambda: not app.running)
        answer = message.answer
        assert answer is not None and answer.incomplete
        assert answer.finish_reason == "cancelled"
        assert "-incomplete" in message.classes
        assert "Incomplete answer" in str(message.query_one(".flags").render())
        # A user's cancel is not an error: no error notification, the input stays empty.
        assert not [m for m, sev in notifications(app) if sev == "error"]
        assert app.prompt.value == ""


async def test_model_failure_notifies_and_keeps_the_input(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await submit(pilot, "/model offline:fail-midstream")
        await until(pilot, lambda: app.assistant and app.assistant.model_name.endswith("midstream"))
        message = await ask(pilot, QUESTION)
        assert message.answer is not None and message.answer.incomplete
        # One display per error: the answer block says it, no notification repeats it.
        assert "Incomplete answer" in str(message.query_one(".flags").render())
        assert not [m for m, sev in notifications(app) if sev == "error"]
        assert app.prompt.value == QUESTION
        assert app.prompt.selected_text == QUESTION  # typing replaces it, never appends
        assert app.prompt.has_focus
        assert app.is_running


async def test_unreachable_server_notifies_and_keeps_the_input(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    settings = seed_settings.model_copy(
        update={
            "model": "gpt-4o-mini",
            "openai_base_url": "http://127.0.0.1:9/v1",
            "max_retries": 0,
            "request_timeout": 2.0,
        }
    )
    app = make_app(settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        message = await ask(pilot, QUESTION)
        assert "-failed" in message.classes
        flags = str(message.query_one(".flags").render())
        assert "cannot reach" in flags and "\n" in flags  # the message and its hint
        assert "--model" not in flags  # hints name the chat's actions, not CLI flags
        assert not [m for m, sev in notifications(app) if sev == "error"]
        assert app.prompt.value == QUESTION


async def test_slash_commands(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)

        # /papers [filter]
        await submit(pilot, "/papers")
        await until(pilot, lambda: app.chat.query(NoticeMessage))
        assert "papers in the index" in str(
            app.chat.query(NoticeMessage).last().children[0].render()
        )
        await submit(pilot, "/papers WildGuard")
        await until(pilot, lambda: len(app.chat.query(NoticeMessage)) == 2)
        assert "WildGuard" in app.chat.query(NoticeMessage).last().text

        # /search <query>
        await submit(pilot, "/search multi-turn jailbreak")
        await until(pilot, lambda: len(app.chat.query(NoticeMessage)) == 3)
        assert "X-Teaming" in app.chat.query(NoticeMessage).last().text

        # /summarize with completion (Tab) of the title
        app.prompt.focus()
        app.prompt.value = "/summarize WildG"
        await pilot.press("tab")
        assert app.prompt.value.startswith("/summarize WildGuard")
        message = await ask(pilot, "/summarize WildGuard")
        assert message.answer is not None and message.answer.kind == "summary"
        assert message.answer.citations
        assert "WildGuard" in message.answer.sources[0].title

        # /summarize of an unknown paper: "did you mean", the input kept
        await submit(pilot, "/summarize zzqx-no-such-paper")
        await until(pilot, lambda: not app.running)
        await until(pilot, lambda: app.prompt.value)
        assert app.prompt.value == "/summarize zzqx-no-such-paper"
        assert "no paper matches" in str(last_answer(app).query_one(".flags").render())

        # /export [path]: never creates a folder
        target = tmp_path / "out" / "chat.md"
        await submit(pilot, f"/export {target}")
        await until(pilot, lambda: any("does not exist" in m for m, _ in notifications(app)))
        assert not target.parent.exists()
        target.parent.mkdir()
        await submit(pilot, f"/export {target}")
        await until(pilot, target.exists)
        assert "WildGuard" in target.read_text()

        # /model <name>
        await submit(pilot, "/model offline:slow")
        await until(pilot, lambda: app.assistant and app.assistant.model_name == "offline:slow")
        assert "offline:slow" in str(app.status.query_one("#status-model").render())

        # /help and /history open their screens
        await submit(pilot, "/help")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await submit(pilot, "/history")
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("escape")
        await pilot.pause()

        # /new clears the chat
        await submit(pilot, "/new")
        await until(pilot, lambda: not app.chat.answers)
        assert app.conversation_id is None

        # Bad commands: a notification, the line kept
        await submit(pilot, "/frobnicate")
        assert app.prompt.value == "/frobnicate"
        assert any("unknown command" in m for m, _ in notifications(app))


async def test_resume_and_delete_from_history(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await ask(pilot, QUESTION)
        first = app.conversation_id
        assert first
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not app.chat.answers)
        await ask(pilot, "Which papers are about moderation tools?")
        second = app.conversation_id
        assert second and second != first

        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        await pilot.press("down", "enter")  # newest first: the second row is the first chat
        await until(pilot, lambda: app.conversation_id == first and app.chat.answers)
        assert [str(m.render()) for m in app.chat.query(UserMessage)] == [QUESTION]
        assert app.chat.answers[0].answer is not None

        # Delete the other conversation (after a confirmation).
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("escape")


async def test_restart_resumes_the_last_conversation(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await ask(pilot, QUESTION)
        conversation = app.conversation_id
    again = make_app(seed_settings, seed_index, tmp_path, resume=True)
    async with again.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: again.chat.answers)
        assert again.conversation_id == conversation
        assert again.chat.answers[0].answer is not None
        # The last answer is selected (its sources are filled right after it is shown).
        await until(pilot, lambda: again.sources.query(SourceItem))


async def test_empty_index_shows_indexing_progress(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    """First start: the seeds are indexed in a worker while a progress bar runs."""
    seen: list[tuple[int, int]] = []

    class FreshAssistant(Assistant):
        indexed = False

        def corpus_size(self) -> int:
            return super().corpus_size() if self.indexed else 0

        def ensure_index(self, progress: Any = None) -> None:
            for done in range(0, 4):
                progress(done, 3)
                seen.append((done, 3))
                time.sleep(0.05)
            self.indexed = True

    app = ResearchApp(
        seed_settings,
        assistant_factory=lambda s: FreshAssistant(
            s, index=seed_index, history=HistoryStore.for_home(tmp_path)
        ),
        resume=False,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "-indexing" in app.status.classes)
        assert app.status.query_one("ProgressBar").display
        await ready(pilot)
        await until(pilot, lambda: "-indexing" not in app.status.classes)
        assert seen[-1] == (3, 3)
        assert "papers" in str(app.status.query_one("#status-corpus").render())


async def test_narrow_terminal_toggles_sources(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(pilot)
        assert not app.sources.display  # nothing to show yet
        await ask(pilot, QUESTION)
        assert app.sources.display  # shown beside the chat with the first answer
        await pilot.press("ctrl+b")
        assert not app.sources.display
        await pilot.press("ctrl+b")
        assert app.sources.display


async def test_question_before_the_index_is_open_waits(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    gate = asyncio.Event()

    def factory(s: Settings) -> Assistant:
        while not gate.is_set():
            time.sleep(0.01)
        return Assistant(s, index=seed_index, history=HistoryStore.for_home(tmp_path))

    app = ResearchApp(seed_settings, assistant_factory=factory, resume=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await submit(pilot, QUESTION)
        assert app.running and app.assistant is None
        gate.set()
        await until(pilot, lambda: not app.running)
        assert last_answer(app).answer is not None


async def test_invalid_citation_is_flagged(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    settings = seed_settings.model_copy(update={"model": "offline:invent-citation"})
    app = make_app(settings, seed_index, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        message = await ask(pilot, QUESTION)
        answer = message.answer
        assert answer is not None and answer.invalid_citations
        bad = answer.invalid_citations[0]
        assert f"~~{bad}~~ ⚠" in message.query_one(Markdown).source
        invalid = [line for line in message.query(CitationLine) if line.invalid]
        assert [line.number for line in invalid] == sorted(set(answer.invalid_citations))
        assert "Invalid citation" in str(message.query_one(".flags").render())
        # Choosing it says so instead of opening a paper.
        invalid[0].focus()
        await pilot.press("enter")
        await pilot.pause()
        assert any("names no source" in m for m, _ in notifications(app))


async def test_command_palette_summarizes_a_paper(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = make_app(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"Summarize: WildGuard")
        await until(
            pilot,
            lambda: any(
                "WildGuard" in str(option.prompt)
                for option in app.screen.query_one(CommandList).options
            ),
        )
        await pilot.press("enter")
        await until(
            pilot,
            lambda: app.chat.answers and last_answer(app).answer is not None and not app.running,
        )
        answer = last_answer(app).answer
        assert answer is not None and answer.kind == "summary"
        assert "WildGuard" in answer.sources[0].title
