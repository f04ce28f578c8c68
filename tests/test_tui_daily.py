"""The chat UI for daily use (issue 9), one test per numbered item, driven with Pilot over the
real Assistant, the real seed index and real subprocesses for `ra ingest`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import DataTable, Input, OptionList

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.history import HistoryStore
from assistant.orchestrator import Assistant
from retrieval.index import PaperIndex
from shells.tui import render
from shells.tui.app import ResearchApp
from shells.tui.screens.dialogs import ConfirmScreen, PickScreen, TextScreen
from shells.tui.screens.history import HistoryScreen
from shells.tui.state import StateFile
from shells.tui.theme import DARK
from shells.tui.widgets.chat_log import AnswerMessage, NoticeMessage, PaperEntry, UserMessage
from tests.home_copy import clean_env, copy_home
from tests.openai_server import OpenAIServer
from tests.test_tui import QUESTION, ask, last_answer, notifications, ready, submit, until

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parent.parent


def app_for(settings: Settings, index: Any, home: Path, **kwargs: Any) -> ResearchApp:
    """The app with its own RA_HOME for UI state and history (the index may be shared)."""
    settings = settings.model_copy(update={"home": home})

    def factory(s: Settings) -> Assistant:
        return Assistant(s, index=index, history=HistoryStore.for_home(home))

    kwargs.setdefault("resume", False)
    kwargs.setdefault("theme", DARK)
    return ResearchApp(settings, assistant_factory=factory, **kwargs)


def flags(message: AnswerMessage) -> str:
    return str(message.query_one(".flags").render())


# 1. Multi-line input ------------------------------------------------------------------


async def test_multiline_paste_newline_key_and_recall(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = app_for(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.prompt.focus()
        # A bracketed paste arrives as one Paste event: every line is kept.
        app.post_message(events.Paste("What is X-Teaming?\nAnswer briefly\nplease"))
        await until(pilot, lambda: app.prompt.text.count("\n") == 2)
        # ctrl+j adds a line; Enter sends the whole text.
        await pilot.press("ctrl+j", *"thanks")
        assert app.prompt.text.endswith("please\nthanks")
        assert app.prompt.size.height > 3  # the box grew
        await pilot.press("enter")
        await until(pilot, lambda: app.chat.answers and not app.running)
        asked = str(app.chat.query(UserMessage).last().render())
        assert asked == "What is X-Teaming?\nAnswer briefly\nplease\nthanks"
        assert app.prompt.text == ""
        await submit(pilot, "/papers WildGuard")
        await until(pilot, lambda: app.chat.query(NoticeMessage))
        # Up on the first line walks back; Down walks forward to the (kept) draft.
        app.prompt.insert("draft")
        await pilot.press("up")
        assert app.prompt.text == "/papers WildGuard"
        await pilot.press("up")
        assert app.prompt.text.startswith("What is X-Teaming?\n")
        await pilot.press("down", "down")
        assert app.prompt.text == "draft"
    # Persisted per home: a new app recalls them.
    assert StateFile(tmp_path).state.inputs[-1] == "/papers WildGuard"
    again = app_for(seed_settings, seed_index, tmp_path)
    async with again.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        again.prompt.focus()
        await pilot.press("up")
        assert again.prompt.text == "/papers WildGuard"


# 2. The chat follows the index ---------------------------------------------------------


def ra(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        cwd=REPO,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


@pytest.mark.slow
async def test_reindex_and_ingest_elsewhere_while_open(
    seed_settings: Settings, seed_home: Path, tmp_path: Path
) -> None:
    home = copy_home(seed_home, tmp_path / "home")
    index = PaperIndex(seed_settings.model_copy(update={"home": home}).retrieval())
    app = app_for(seed_settings, index, home)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        before = len(app.paper_list)
        assert (await ask(pilot, QUESTION)).answer is not None
        ra(home, "ingest", "--reindex", "--no-progress")  # the collection is replaced
        message = await ask(pilot, "What is WildGuard?")
        assert message.answer is not None and message.answer.citations, flags(message)
        # A new paper from another terminal: counts and completion follow before the question.
        extra = tmp_path / "extra.jsonl"
        paper = {
            "title": "Zebra Finches Sing Citations",
            "abstract": "We study zebra finch song as a model of citation behaviour.",
            "year": 2021,
            "authors": ["Ada Songbird"],
        }
        extra.write_text(json.dumps(paper) + "\n")
        ra(home, "ingest", str(extra), "--no-progress")
        # Coming back to the window is enough to notice it.
        app.post_message(events.AppFocus())
        await until(pilot, lambda: len(app.paper_list) == before + 1)
        await pilot.press("ctrl+n")  # not a follow-up: no condensing of the question
        message = await ask(pilot, "What do zebra finches sing?")
        assert any("Zebra" in s.title for s in message.answer.sources)  # type: ignore[union-attr]
        assert len(app.paper_list) == before + 1
        assert f"{before + 1} papers" in str(app.status.query_one("#status-corpus").render())
        assert any("Zebra Finches" in p for p in app.completion.papers)
        # /reload forces it.
        await submit(pilot, "/reload")
        await until(pilot, lambda: any("reloaded" in m for m, _ in notifications(app)))


# 3. Focus comes back to the input ------------------------------------------------------


async def test_focus_returns_to_the_input(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = app_for(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await ask(pilot, QUESTION)
        await pilot.press("ctrl+n")
        await ask(pilot, "Which papers are about moderation tools?")
        # Resume from the history screen, then type at once: nothing is lost.
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("down", "enter")
        await until(pilot, lambda: str(app.chat.query(UserMessage).first().render()) == QUESTION)
        await pilot.press(*"hello")
        assert app.prompt.has_focus and app.prompt.text == "hello"
        # A second Tab after accepting a completion keeps the focus in the input.
        app.prompt.value = "/summarize WildG"
        await pilot.press("tab")
        assert app.prompt.text.startswith("/summarize WildGuard")
        await pilot.press("tab")
        assert app.prompt.has_focus
        # Typing while an answer has focus goes to the input.
        app.prompt.value = ""
        app.chat.answers[0].focus()
        await pilot.press(*"why")
        assert app.prompt.has_focus and app.prompt.text == "why"
        # After the help screen, too.
        await pilot.press("f1")
        await pilot.press("escape")
        await pilot.pause()
        assert app.prompt.has_focus


# 4. Failed commands -------------------------------------------------------------------


async def test_failed_command_is_selected_once_reported_and_candidates_picked(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = app_for(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await submit(pilot, "/summarize zzqx-no-such-paper")
        await until(pilot, lambda: not app.running and app.prompt.text)
        # The text stays, selected: the next command replaces it, never appends.
        assert app.prompt.selected_text == "/summarize zzqx-no-such-paper"
        await pilot.press(*"/papers")
        assert app.prompt.text == "/papers"
        # One display per error: in the answer block, no notification on top.
        assert "no paper matches" in flags(last_answer(app))
        assert not [m for m, sev in notifications(app) if sev == "error"]
        # An ambiguous reference opens a pick list; the pick summarizes that paper.
        app.prompt.value = ""
        await submit(pilot, "/summarize safety")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        await until(pilot, lambda: app.screen.query(OptionList))
        options = app.screen.query_one(OptionList)
        assert options.option_count >= 2
        chosen = options.get_option_at_index(0).id
        await pilot.press("enter")
        await until(pilot, lambda: len(app.chat.answers) == 3 and not app.running)
        answer = last_answer(app).answer
        assert answer is not None and answer.kind == "summary"
        assert answer.sources[0].paper_id == chosen
        assert app.prompt.has_focus


# 5. Narrow screens --------------------------------------------------------------------


async def test_narrow_screen_sources_overlay_and_compact_status(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = app_for(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(60, 24)) as pilot:
        await ready(pilot)
        await submit(pilot, "/papers")
        await until(pilot, lambda: app.chat.query(NoticeMessage))
        assert not app.sources.display  # no empty panel beside a paper list
        await ask(pilot, QUESTION)
        assert not app.sources.display  # the chat keeps the whole width
        assert app.chat.size.width >= 55
        assert not app.query_one("#status-note").display
        assert " s" not in str(app.status.query_one("#status-usage").render())
        await pilot.press("ctrl+b")
        assert app.sources.display and app.sources.region.x < 30  # floats over the chat
        await pilot.press("escape")
        assert not app.sources.display and app.prompt.has_focus


# 6. History ---------------------------------------------------------------------------


async def test_history_dates_rename_filter_delete_undo_and_last_viewed(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    app = app_for(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await ask(pilot, QUESTION)
        first = app.conversation_id
        await pilot.press("ctrl+n")
        await ask(pilot, "Which papers are about moderation tools?")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = app.screen
        table = screen.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == [
            "Title",
            "Turns",
            "Started",
            "Updated",
        ]
        assert str(table.get_row_at(0)[2])[:2] == "20"  # a date
        # Rename the highlighted (newest) conversation.
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, TextScreen))
        app.screen.query_one(Input).value = "Moderation tools"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen)
        assert "Moderation tools" in str(table.get_row_at(0)[0])
        # Filter.
        await pilot.press("slash", *"x-team")
        await until(pilot, lambda: table.row_count == 1)
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 2)
        # Delete asks first; "n" keeps it, "y" deletes, "u" undoes.
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        assert table.row_count == 2
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: table.row_count == 1)
        await pilot.press("u")
        await until(pilot, lambda: table.row_count == 2)
        # View the older one: it is what the next start reopens.
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.conversation_id == first)
    again = app_for(seed_settings, seed_index, tmp_path, resume=True)
    async with again.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: again.chat.answers)
        assert again.conversation_id == first


# 7. Smaller items ---------------------------------------------------------------------


async def test_model_list_theme_export_topic_and_copy(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with OpenAIServer("Served answer [1].") as server:
        server.models = ["served-a", "served-b"]
        settings = seed_settings.model_copy(update={"openai_base_url": server.base_url})
        app = app_for(settings.model_copy(update={"model": "offline"}), seed_index, tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            # The endpoint's models are fetched for completion once the index is ready.
            await until(pilot, lambda: "served-b" in app.completion.models)
            # /model with no name: the endpoint's models and offline, to pick from.
            await submit(pilot, "/model")
            await until(pilot, lambda: isinstance(app.screen, PickScreen))
            await until(pilot, lambda: app.screen.query(OptionList))
            listing = app.screen.query_one(OptionList)
            names = [str(listing.get_option_at_index(i).id) for i in range(listing.option_count)]
            assert names[:3] == ["served-a", "served-b", "offline"]
            await pilot.press("enter")
            await until(pilot, lambda: app.model_name == "served-a")
            assert app.prompt.has_focus
            # ...and completes them.
            app.prompt.value = "/model served-b"[:10]
            await pilot.press("tab")
            assert app.prompt.text == "/model served-a"
            app.prompt.value = "/model offline"
            await pilot.press("enter")
            await until(pilot, lambda: app.model_name == "offline")
            # A theme picked is kept for the next start (the one started with is not saved).
            assert StateFile(tmp_path).state.theme is None
            app.theme = "nord"
            await pilot.pause()
            # /topic and /summarize --topic.
            message = await ask(pilot, "/topic jailbreak attacks")
            assert message.answer is not None and message.answer.kind == "topic_summary"
            message = await ask(pilot, "/summarize --topic moderation")
            assert message.answer is not None and message.answer.kind == "topic_summary"
            # /export asks before overwriting.
            target = tmp_path / "chat.md"
            target.write_text("keep me")
            await submit(pilot, f"/export {target}")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await pilot.pause()
            assert target.read_text() == "keep me"
            await submit(pilot, f"/export {target}")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: target.read_text() != "keep me")
            assert "jailbreak" in target.read_text()
    assert StateFile(tmp_path).state.theme == "nord"
    restarted = ResearchApp(
        seed_settings.model_copy(update={"home": tmp_path}),
        assistant_factory=lambda s: Assistant(s, index=seed_index),
        resume=False,
    )
    assert restarted._theme_name == "nord"


async def test_stage_shown_and_empty_stopped_answer_not_copied(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    gate = threading.Event()

    def factory(s: Settings) -> Assistant:
        gate.wait(30)
        return Assistant(s, index=seed_index, history=HistoryStore.for_home(tmp_path))

    settings = seed_settings.model_copy(update={"home": tmp_path, "model": "offline:slow"})
    app = ResearchApp(settings, assistant_factory=factory, resume=False, theme=DARK)
    async with app.run_test(size=(100, 30)) as pilot:
        await submit(pilot, QUESTION)
        message = last_answer(app)
        await until(
            pilot, lambda: "opening the index" in str(message.query_one(".pending").render())
        )
        # Stopped before any text: ctrl+y does not copy an empty answer.
        await pilot.press("escape")
        gate.set()
        await until(pilot, lambda: not app.running)
        assert message.answer is not None and message.answer.incomplete
        assert not message.answer.answer.strip()
        await pilot.press("ctrl+y")
        assert any("No answer text" in m for m, _ in notifications(app))
        assert not any("Copied" in m for m, _ in notifications(app))


async def test_papers_full_ids_and_year_author_filters(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    papers = seed_index.papers()
    longest = max(papers, key=lambda p: len(p.paper_id))
    app = app_for(seed_settings, seed_index, tmp_path)
    async with app.run_test(size=(60, 24)) as pilot:
        await ready(pilot)
        await submit(pilot, "/papers 2021")
        await until(pilot, lambda: app.chat.query(NoticeMessage))
        notice = app.chat.query(NoticeMessage).last()
        expected = [p for p in papers if p.year == 2021]
        assert expected and f"{len(expected)} papers" in str(notice.children[0].render())
        # Every id shown whole, broken (if at all) only after a hyphen.
        entries = list(notice.query(PaperEntry))
        assert sorted(e.paper.paper_id for e in entries) == sorted(p.paper_id for p in expected)
        for entry in entries:
            lines = [line.strip() for line in str(entry.render()).splitlines()[1:]]
            assert "".join(lines) == entry.paper.paper_id
            assert all(line.endswith("-") for line in lines[:-1]), lines
    # The filter itself: a year, a range, by:author, free words.
    author = next(p for p in papers if p.authors).authors[0]
    surname = author.split()[-1]
    _title, listed, _footer = render.select_papers(papers, f"by:{surname}")
    assert listed
    assert all(any(surname.casefold() in a.casefold() for a in p.authors) for p in listed)
    assert render.select_papers(papers, longest.paper_id)[1] == [longest]
    assert render.break_id("a-bb-ccc", 5) == ["a-bb-", "ccc"]
    f = render.PaperFilter.parse("2020-2022 by:smith safety")
    assert (f.year_from, f.year_to, f.author, f.words) == (2020, 2022, "smith", ["safety"])


def test_hints_name_chat_actions() -> None:
    assert render.tui_hint("set OPENAI_API_KEY, or use --model offline") == (
        "set OPENAI_API_KEY, or use `/model offline`"
    )
    assert render.tui_hint("try `ra search` or `ra papers` to find it") == (
        "try `/search` or `/papers` to find it"
    )


def test_ra_papers_shows_full_ids_at_any_width(seed_home: Path, tmp_path: Path) -> None:
    home = copy_home(seed_home, tmp_path / "home")
    for width in ("60", "160"):
        env = clean_env(home, COLUMNS=width)
        done = subprocess.run(
            [sys.executable, "-m", "shells.cli", "papers"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        listed = json.loads(
            subprocess.run(
                [sys.executable, "-m", "shells.cli", "papers", "--json"],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True,
            ).stdout
        )  # fmt: skip
        words = set(done.stdout.split())
        missing = [p["paper_id"] for p in listed if p["paper_id"] not in words]
        assert not missing, (width, missing[:3])


async def test_an_unfinished_ingest_elsewhere_is_told_once(
    seed_settings: Settings, seed_home: Path, tmp_path: Path
) -> None:
    home = copy_home(seed_home, tmp_path / "home")
    manifest = next(home.glob("manifest-*.json"))
    data = json.loads(manifest.read_text())
    data.update(complete=False, ingest={"started_at": "2026-01-01T00:00:00Z", "pid": 0})
    manifest.write_text(json.dumps(data))
    index = PaperIndex(seed_settings.model_copy(update={"home": home}).retrieval())
    app = app_for(seed_settings, index, home)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: any("did not finish" in m for m, _ in notifications(app)))
        assert (await ask(pilot, QUESTION)).answer is not None  # still answers


async def test_reload_retries_an_index_that_could_not_be_opened(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    calls: list[int] = []

    def factory(s: Settings) -> Assistant:
        calls.append(1)
        if len(calls) == 1:
            raise AssistantError("the index is locked", "try again in a moment")
        return Assistant(s, index=seed_index, history=HistoryStore.for_home(tmp_path))

    settings = seed_settings.model_copy(update={"home": tmp_path})
    app = ResearchApp(settings, assistant_factory=factory, resume=False, theme=DARK)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: any("locked" in m for m, _ in notifications(app)))
        assert "unavailable" in str(app.status.query_one("#status-corpus").render())
        await submit(pilot, "/reload")
        await until(pilot, lambda: app.assistant is not None)
        assert (await ask(pilot, QUESTION)).answer is not None
