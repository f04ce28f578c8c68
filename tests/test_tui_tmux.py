"""`ra chat` in a real terminal (tmux): a bracketed paste of a multi-line question, and a
re-index from another process while the chat is open."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.home_copy import clean_env, copy_home

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
REPO = Path(__file__).resolve().parent.parent
QUESTION_LINES = ["What is X-Teaming?", "Which models does it attack,", "and how well?"]


class Terminal:
    """`ra chat` in a detached tmux session on a private server."""

    def __init__(self, home: Path, width: int = 100, height: int = 30) -> None:
        self.socket = f"ra-test-{os.getpid()}-{time.monotonic_ns()}"
        self.home = home
        env = clean_env(home, TERM="xterm-256color")
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
        command = f"env -i {exports} {shlex.quote(sys.executable)} -m shells.cli chat; sleep 60"
        self.tmux(
            "new-session", "-d", "-s", "chat", "-x", str(width), "-y", str(height),
            "-c", str(REPO), command,
        )  # fmt: skip

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "chat")

    def wait(self, check: Callable[[str], bool], what: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{text}")
            time.sleep(0.1)

    def status(self) -> str:
        lines = self.screen().rstrip("\n").splitlines()
        return lines[-2] if len(lines) >= 2 else ""

    def ready(self) -> None:
        self.wait(lambda t: "Ask about the papers" in t, "the first paint")
        self.wait(lambda _: "papers" in self.status() and "loading" not in self.status(), "index")

    def paste(self, text: str) -> None:
        """A bracketed paste, as a terminal sends it when the app asked for it."""
        self.tmux("set-buffer", "-b", "q", text)
        self.tmux("paste-buffer", "-p", "-b", "q", "-t", "chat")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "chat", *keys)

    def ask(self, text: str) -> str:
        """Type `text`, press Enter, and wait until the status line shows the new answer."""
        before = self.status()
        self.tmux("send-keys", "-t", "chat", "-l", text)
        self.keys("Enter")
        return self.wait(
            lambda _: "tok" in self.status() and self.status() != before, f"the answer to {text}"
        )

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture()
def terminal(seed_home: Path, tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(copy_home(seed_home, tmp_path / "home"))
    try:
        yield term
    finally:
        term.close()


def saved_questions(home: Path) -> list[str]:
    with sqlite3.connect(home / "history.sqlite") as db:
        return [row[0] for row in db.execute("SELECT question FROM turns ORDER BY id")]


def test_bracketed_paste_asks_the_whole_question(terminal: Terminal) -> None:
    terminal.ready()
    terminal.paste("\n".join(QUESTION_LINES))
    shown = terminal.wait(lambda t: QUESTION_LINES[-1] in t, "the pasted lines")
    assert all(line in shown for line in QUESTION_LINES)  # all in the input box, not sent
    assert "tok" not in terminal.status()
    terminal.keys("Enter")
    terminal.wait(lambda _: "tok" in terminal.status(), "the answer")
    assert saved_questions(terminal.home) == ["\n".join(QUESTION_LINES)]


def test_reindex_in_another_process_then_ask_again(terminal: Terminal) -> None:
    terminal.ready()
    first = terminal.ask("What is X-Teaming?")
    assert "[1]" in first
    subprocess.run(
        [sys.executable, "-m", "shells.cli", "ingest", "--reindex", "--no-progress"],
        cwd=REPO, env=clean_env(terminal.home), check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    again = terminal.ask("What is WildGuard?")
    assert "Error getting collection" not in again and "bug" not in again
    assert "WildGuard" in again and "[1]" in again
    assert len(saved_questions(terminal.home)) == 2
