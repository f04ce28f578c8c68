"""Snapshots of the chat UI's main screens at 80x24 and 160x48 (pytest-textual-snapshot).

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
from shells.tui.widgets.chat_log import CitationLine
from tests.test_tui import QUESTION, ask, make_app, ready, until

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
