"""Snapshots of the chat UI's main screens at 60x24, 80x24 and 160x48
(pytest-textual-snapshot).

Update after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`
and look at the SVGs under `tests/__snapshots__/`. Timings are hidden (`show_timings=False`)
and history dates fixed so that the pictures do not depend on the clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from assistant.config import Settings
from shells.tui.app import ResearchApp
from shells.tui.screens import history
from shells.tui.screens.dialogs import PickScreen
from shells.tui.widgets.chat_log import CitationLine
from tests.test_tui import QUESTION, ask, make_app, ready, submit, until

SnapCompare = Callable[..., bool]
Steps = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture()
def app(seed_settings: Settings, seed_index: Any, tmp_path: Path) -> ResearchApp:
    """A fresh app with a deterministic look."""
    return make_app(seed_settings, seed_index, tmp_path, show_timings=False)


def steps(*extra: Steps) -> Steps:
    """Wait for the index, stop the cursor blinking, then run `extra` in order."""

    async def run(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        app.prompt.cursor_blink = False
        app.prompt.focus()
        for step in extra:
            await step(pilot)
        await pilot.pause()

    return run


async def ask_question(pilot: Pilot[Any]) -> None:
    await ask(pilot, QUESTION)


async def open_first_citation(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, ResearchApp)
    app.chat.answers[-1].query(CitationLine).first().focus()
    await pilot.press("enter")
    await pilot.pause()
    app.prompt.focus()


async def summarize(pilot: Pilot[Any]) -> None:
    await ask(pilot, "/summarize WildGuard")


async def open_help(pilot: Pilot[Any]) -> None:
    await pilot.press("f1")
    await pilot.pause()


async def open_history(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await pilot.press("ctrl+r")
    await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen")


async def papers_2021(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, ResearchApp)
    await submit(pilot, "/papers 2021")
    await until(pilot, lambda: app.chat.query("NoticeMessage"))
    app.chat.scroll_home(animate=False)


async def toggle_sources(pilot: Pilot[Any]) -> None:
    await pilot.press("ctrl+b")
    await pilot.pause()


async def type_two_lines(pilot: Pilot[Any]) -> None:
    await pilot.press(*"What is X-Teaming?", "ctrl+j", *"Answer in two sentences.")
    await pilot.pause()


async def ambiguous_summary(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await submit(pilot, "/summarize safety")
    await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.is_mounted)
    await pilot.pause()


def test_welcome_60x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(60, 24), run_before=steps())


def test_answer_60x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(60, 24), run_before=steps(ask_question))


def test_sources_overlay_60x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(60, 24), run_before=steps(ask_question, toggle_sources))


def test_papers_2021_60x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(60, 24), run_before=steps(papers_2021))


def test_multiline_input_80x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(type_two_lines))


def test_pick_list_80x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(ambiguous_summary))


def test_welcome_80x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps())


def test_answer_80x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(ask_question))


def test_answer_with_open_source_160x48(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(
        app, terminal_size=(160, 48), run_before=steps(ask_question, open_first_citation)
    )


def test_summary_160x48(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(160, 48), run_before=steps(summarize))


def test_help_80x24(snap_compare: SnapCompare, app: ResearchApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(open_help))


def test_history_80x24(
    snap_compare: SnapCompare, app: ResearchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "when", lambda timestamp: "2025-06-01 09:30")
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(ask_question, open_history))
