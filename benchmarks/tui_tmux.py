"""`ra chat` in a real terminal (tmux, 80x24): time to first paint and to a full answer.

Runs against a temporary RA_HOME (indexed first with `ra ingest`, not timed) with nothing
configured (the offline model). Steps: start `ra chat`, ask "What is X-Teaming?", wait for
the cited answer and the sources panel, `/summarize WildGuard`, quit, restart and check the
conversation is back. Times come from polling `tmux capture-pane`, so they are what a user
sees (to within the poll interval, 10 ms).

    python benchmarks/tui_tmux.py [--home DIR] [--keep] [--show]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SESSION = "ra_tui_bench"
SOCKET = f"ra_tui_bench_{os.getpid()}"  # a private tmux server: other sessions are left alone
WIDTH, HEIGHT = 80, 24
POLL_S = 0.01
QUESTION = "What is X-Teaming?"
PLACEHOLDER = "Ask about the papers"


def tmux(*args: str) -> str:
    """Run a tmux command and return its stdout."""
    done = subprocess.run(
        ["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False
    )
    return done.stdout


def pane() -> str:
    """The visible pane text."""
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(check: Callable[[str], bool], timeout: float, what: str) -> tuple[float, str]:
    """Poll the pane until `check(text)`; returns (seconds waited, text)."""
    start = time.perf_counter()
    while True:
        text = pane()
        if check(text):
            return time.perf_counter() - start, text
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}:\n{text}")
        time.sleep(POLL_S)


def status_line(text: str) -> str:
    """The status line (second-to-last line of the pane)."""
    lines = text.rstrip("\n").splitlines()
    return lines[-2] if len(lines) >= 2 else ""


def start_chat(ra: Path, env: dict[str, str]) -> float:
    """Start `ra chat` in a fresh tmux session; returns seconds to first paint."""
    tmux("kill-session", "-t", SESSION)
    command = " ".join([f"{k}={v}" for k, v in env.items()] + [str(ra), "chat", "; sleep 30"])
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT), command)
    waited, _ = wait_for(lambda t: PLACEHOLDER in t, 20, "first paint")
    return time.perf_counter() - start if waited else 0.0


def send(text: str, enter: bool = True) -> None:
    """Type `text` (literally) and press Enter."""
    tmux("send-keys", "-t", SESSION, "-l", text)
    if enter:
        tmux("send-keys", "-t", SESSION, "Enter")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="an RA_HOME to use (default: a fresh temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp RA_HOME")
    parser.add_argument("--show", action="store_true", help="print the captured panes")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 1
    ra = Path(sys.executable).parent / "ra"
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ra_tui_"))
    env = {
        "RA_HOME": str(home),
        "RA_CONFIG": os.devnull,
        "TERM": "xterm-256color",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RA_"))}
    t0 = time.perf_counter()
    subprocess.run(
        [str(ra), "ingest", "--no-progress"],
        env={**clean, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"ingest (not timed below): {time.perf_counter() - t0:.1f} s")
    # Everything else the app sees comes from this environment only.
    env["PATH"] = os.environ.get("PATH", "")
    env["HOME"] = os.environ.get("HOME", "")
    if os.environ.get("PYTHONPATH"):  # e.g. a worktree's code over the editable install
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    results: dict[str, float] = {}
    checks: dict[str, bool] = {}
    try:
        results["first_paint_s"] = start_chat(ra, env)
        results["ready_after_paint_s"], opened = wait_for(
            lambda t: "papers" in status_line(t) and "loading" not in status_line(t),
            30,
            "the index to open",
        )
        results["first_text_s"], results["full_answer_s"], answered = ask_and_wait(
            QUESTION, status_line(opened)
        )
        checks["answer cites [1]"] = "[1]" in answered
        show(args.show, "after the question", answered)
        # Below 90 columns the sources panel is an overlay: ctrl+b shows it.
        tmux("send-keys", "-t", SESSION, "C-b")
        _, panel = wait_for(lambda t: "Sources ·" in t, 10, "the sources panel")
        checks["sources panel shown"] = "●" in panel
        show(args.show, "sources panel (ctrl+b)", panel)
        tmux("send-keys", "-t", SESSION, "C-b")
        _, results["summary_s"], summarized = ask_and_wait(
            "/summarize WildGuard", status_line(answered)
        )
        checks["summary of WildGuard"] = "WildGuard" in summarized and "[1]" in summarized
        show(args.show, "after /summarize WildGuard", summarized)
        quit_chat()

        results["restart_first_paint_s"] = start_chat(ra, env)
        _, restored = wait_for(
            lambda t: "WildGuard" in t and "tok" in status_line(t), 30, "the resumed conversation"
        )
        show(args.show, "after restart", restored)
        tmux("send-keys", "-t", SESSION, "C-r")
        _, listed = wait_for(lambda t: "Turns" in t, 10, "the history screen and its rows")
        show(args.show, "history screen", listed)
        checks["conversation restored"] = any(
            QUESTION in line and " 2 " in line for line in listed.splitlines()
        )
        quit_chat()

        # Cold: the question typed the moment the window appears (the index still opening).
        start_chat(ra, env)
        _, results["cold_full_answer_s"], _ = ask_and_wait(QUESTION, "", cold=True)
        quit_chat()
    finally:
        tmux("kill-server")
        if not args.home and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    for name, value in results.items():
        print(f"{name:24s} {value:6.2f} s")
    for name, ok in checks.items():
        print(f"{name:24s} {'yes' if ok else 'NO'}")
    return 0 if all(checks.values()) else 1


def ask_and_wait(text: str, status_before: str, cold: bool = False) -> tuple[float, float, str]:
    """Send `text`; seconds to the first streamed text, to the full answer, and the pane.

    The first text is when the "searching the papers…" placeholder gives way to the
    answer (0.0 when that happened between two polls or when `cold`).
    """
    send(text)
    asked = time.perf_counter()
    first = 0.0
    seen_placeholder = False
    while True:
        pane_text = pane()
        now = time.perf_counter() - asked
        searching = "searching the papers" in pane_text
        if searching:
            seen_placeholder = True
        elif seen_placeholder and not first and not cold:
            first = now
        status = status_line(pane_text)
        if "tok" in status and status != status_before:
            return first, now, pane_text
        if now > 60:
            raise SystemExit(f"timed out waiting for the answer to {text!r}:\n{pane_text}")
        time.sleep(POLL_S)


def quit_chat() -> None:
    """ctrl+q, then wait for the app to leave the screen."""
    tmux("send-keys", "-t", SESSION, "C-q")
    wait_for(lambda t: PLACEHOLDER not in t, 10, "the app to quit")


def show(enabled: bool, title: str, text: str) -> None:
    """Print a captured pane."""
    if enabled:
        print(f"--- {title} ---\n{text}")


if __name__ == "__main__":
    sys.exit(main())
