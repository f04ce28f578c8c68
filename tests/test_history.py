"""Conversation history: saved per turn in SQLite (WAL); crash-safe; no secrets saved."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.answer import Answer, Citation, SourceGiven
from assistant.config import Settings, load_settings
from assistant.errors import ConversationNotFound, ModelError
from assistant.export import conversation_markdown
from assistant.history import HistoryStore
from assistant.orchestrator import Assistant
from tests.home_copy import clean_env, copy_home
from tests.openai_server import OpenAIServer, Reply

KEY = "sk-test-RECOGNIZABLE-4f2a9c7e1b"
REPO = Path(__file__).resolve().parents[1]


def answer(question: str, text: str, papers: list[tuple[str, str]]) -> Answer:
    sources = [
        SourceGiven(number=i, paper_id=pid, title=title, text="...", year=2025)
        for i, (pid, title) in enumerate(papers, 1)
    ]
    citations = [Citation(marker=s.number, paper_id=s.paper_id, title=s.title) for s in sources]
    return Answer(
        question=question, answer=text, sources=sources, citations=citations, model="offline"
    )


def test_turns_are_saved_listed_resumed_and_deleted(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    first = store.new_conversation()
    second = store.new_conversation()
    t1 = store.start_turn(first, "answer", "What is X?", "offline")
    store.finish_turn(t1, answer("What is X?", "X is a thing [1].", [("p1", "Paper One")]))
    t2 = store.start_turn(first, "answer", "And Y?", "offline")
    store.fail_turn(t2, "the model server failed")
    store.start_turn(second, "summary", "Z", "offline")  # left pending: crashed mid-turn

    listed = store.conversations()
    assert {c.id for c in listed} == {first, second}
    by_id = {c.id: c for c in listed}
    assert by_id[first].title == "What is X?" and by_id[first].turns == 2

    convo = store.conversation(first)
    assert [(t.question, t.status) for t in convo.turns] == [
        ("What is X?", "done"),
        ("And Y?", "failed"),
    ]
    assert convo.turns[0].answer is not None and convo.turns[0].answer.answer == "X is a thing [1]."
    assert convo.turns[1].error == "the model server failed"
    assert [t.status for t in store.conversation(second).turns] == ["pending"]

    store.delete_conversation(first)
    assert [c.id for c in store.conversations()] == [second]
    with pytest.raises(ConversationNotFound):
        store.conversation(first)
    with pytest.raises(ConversationNotFound):
        store.start_turn("nope", "answer", "q", "offline")


def test_wal_mode_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path)
    cid = store.new_conversation()
    store.start_turn(cid, "answer", "q", "offline")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    assert HistoryStore(path).conversation(cid).turns[0].question == "q"


def test_export_renumbers_into_one_reference_list(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    cid = store.new_conversation()
    a1 = answer("Q1?", "A uses B [1]. C does D [2].", [("pa", "Paper A"), ("pb", "Paper B")])
    a2 = answer("Q2?", "Again B [1], bogus [5].", [("pb", "Paper B")])
    a2.invalid_citations = [5]
    for a in (a1, a2):
        store.finish_turn(store.start_turn(cid, "answer", a.question, "offline"), a)
    store.start_turn(cid, "answer", "Q3?", "offline")
    md = conversation_markdown(store.conversation(cid))
    assert "## Q Q1?" in md and "A uses B [1]. C does D [2]." in md
    assert "Again B [2], bogus [5?]." in md  # Paper B keeps its number 2
    assert "invalid citations: 5" in md
    assert "interrupted before an answer" in md
    refs = md.split("## References", 1)[1]
    assert "1. Unknown authors (2025) *Paper A*." in refs
    assert "2. Unknown authors (2025) *Paper B*." in refs


def test_api_key_never_saved_or_exported(
    seed_settings: Settings, seed_index: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with OpenAIServer() as server:
        server.script(
            Reply.error(401, f"Incorrect API key provided: {KEY}", code="invalid_api_key")
        )
        settings = load_settings(home=home, model="offline", openai_api_key=KEY)
        bot = Assistant(settings, index=seed_index)
        first = bot.ask("Which papers study multi-turn jailbreaks?")
        cid = first.conversation_id
        bot.ask(f"Is {KEY} a key? What about X-Teaming?", conversation_id=cid)
        bot.summarize("X-Teaming", conversation_id=cid)
        remote = Assistant(
            load_settings(
                home=home, model="test-model", openai_api_key=KEY, openai_base_url=server.base_url
            ),
            index=seed_index,
            history=bot.history,
        )
        with pytest.raises(ModelError) as info:
            remote.ask("And with the remote model?", conversation_id=cid)
        assert info.value.kind == "auth" and KEY not in info.value.display()
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was used
    assert cid is not None
    exported = bot.export_markdown(cid)
    assert "X-Teaming" in exported and KEY not in exported
    statuses = [t.status for t in bot.conversation(cid).turns]
    assert statuses == ["done", "done", "done", "failed"]
    files = list(home.glob("history.sqlite*"))
    assert files
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in repr(remote.model) and KEY not in repr(settings)


CHILD = textwrap.dedent(
    """
    import sys
    from assistant.config import load_settings
    from assistant.orchestrator import Assistant

    bot = Assistant(load_settings(home=sys.argv[1], model="offline"))
    cid = bot.new_conversation()
    for q in ["Which papers study multi-turn jailbreaks?",
              "How many languages does PolyGuard cover?",
              "Which work trains a conversation model called COSMO?"]:
        bot.ask(q, conversation_id=cid)
    print("CID", cid, flush=True)
    bot.set_model("offline:slow")
    bot.ask("What is WildGuard?", conversation_id=cid,
            on_delta=lambda text: print("DELTA", flush=True))
    print("FINISHED", flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_mid_turn_keeps_earlier_turns(seed_home: Path, tmp_path: Path) -> None:
    home = copy_home(seed_home, tmp_path / "home")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home)],
        cwd=REPO,
        env=clean_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cid = None
    deltas = 0
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("CID"):
                cid = line.split()[1]
            elif line.startswith("DELTA"):
                deltas += 1
                if deltas == 3:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            assert time.monotonic() < deadline
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert cid is not None and deltas == 3

    path = home / "history.sqlite"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    turns = HistoryStore(path).conversation(cid).turns
    assert [t.status for t in turns] == ["done", "done", "done", "pending"]
    assert all(t.answer is not None and t.answer.citations for t in turns[:3])
    assert turns[3].question == "What is WildGuard?" and turns[3].answer is None
