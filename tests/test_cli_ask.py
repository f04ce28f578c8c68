"""`ra ask`, `ra summarize`, `ra history` as a user runs them (subprocesses, nothing configured)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.home_copy import clean_env, copy_home
from tests.openai_server import free_port

REPO = Path(__file__).resolve().parents[1]
XTEAMING = "2504.13203"


@pytest.fixture(scope="module")
def home(seed_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the indexed seed home, shared by this module's commands."""
    return copy_home(seed_home, tmp_path_factory.mktemp("cli") / "home")


def ra(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        cwd=REPO,
        env=clean_env(home, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def ra_json(home: Path, *args: str) -> Any:
    result = ra(home, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # exactly one JSON document


def test_ask_json_cites_x_teaming(home: Path) -> None:
    data = ra_json(home, "ask", "Which papers study multi-turn jailbreaks?")
    assert {
        "answer",
        "citations",
        "invalid_citations",
        "sources",
        "model",
        "usage",
        "timings_ms",
    } <= set(data)
    assert data["model"] == "offline"
    assert data["invalid_citations"] == []
    assert XTEAMING in {c["paper_id"] for c in data["citations"]}
    assert all(set(c) == {"marker", "paper_id", "title"} for c in data["citations"])
    given = {s["number"]: s["paper_id"] for s in data["sources"]}
    assert all(given[c["marker"]] == c["paper_id"] for c in data["citations"])
    assert data["usage"]["prompt_tokens"] > 0 and data["usage"]["completion_tokens"] > 0
    assert {"retrieve", "prompt", "first_token", "total"} <= set(data["timings_ms"])


def test_ask_json_abstains_off_corpus(home: Path) -> None:
    data = ra_json(home, "ask", "How does AlphaFold predict protein structure?")
    assert data["citations"] == [] and data["invalid_citations"] == []
    assert data["abstained"] is True
    assert "do not cover" in data["answer"]


def test_summarize_by_title_and_arxiv_id_agree(home: Path) -> None:
    by_title = ra_json(home, "summarize", "X-Teaming")
    by_id = ra_json(home, "summarize", XTEAMING)
    assert [s["paper_id"] for s in by_title["sources"]] == [XTEAMING]
    assert [s["paper_id"] for s in by_id["sources"]] == [XTEAMING]
    assert by_title["answer"] == by_id["answer"]
    assert {c["paper_id"] for c in by_id["citations"]} == {XTEAMING}


def test_ask_streams_text_with_a_source_list(home: Path) -> None:
    result = ra(home, "ask", "How many languages does PolyGuard cover?")
    assert result.returncode == 0, result.stderr
    assert "17 languages" in result.stdout
    assert "Sources:" in result.stdout and "PolyGuard" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["summarize", "zqxv wvut"], {}, "no paper matches 'zqxv wvut'"),
        (["summarize", "Wild"], {}, "did you mean"),
        (["ask", "hi", "--model", "offline:be-evil"], {}, "unknown offline misbehaviour"),
        (["ask", "hi", "--model", "gpt-4o"], {}, "needs an OpenAI-compatible endpoint"),
        (["ask", "   "], {}, "the question is empty"),
        (
            ["ask", "What is X-Teaming?"],
            {
                "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
                "RA_MAX_RETRIES": "0",
            },
            "cannot reach the model server at http://127.0.0.1",
        ),
    ],
)
def test_errors_are_one_line_on_stderr(
    home: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    result = ra(home, *args, **env)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ra: error: ") and expected in lines[0]


def test_history_list_export_delete(home: Path, tmp_path: Path) -> None:
    # A one-shot `ra ask` stays out of history; `--save` keeps it.
    before = {c["id"] for c in ra_json(home, "history")}
    unsaved = ra_json(home, "ask", "Which work trains a conversation model called COSMO?")
    assert unsaved["conversation_id"] is None
    assert {c["id"] for c in ra_json(home, "history")} == before
    asked = ra_json(home, "ask", "Which work trains a conversation model called COSMO?", "--save")
    cid = asked["conversation_id"]
    listed = ra_json(home, "history")
    assert cid in [c["id"] for c in listed]
    out = tmp_path / "talk.md"
    result = ra(home, "history", "export", cid, "--out", str(out))
    assert result.returncode == 0, result.stderr
    markdown = out.read_text()
    assert "## References" in markdown and "SODA" in markdown
    shown = ra_json(home, "history", "show", cid)
    assert shown["turns"][0]["answer"]["answer"] == asked["answer"]
    assert ra(home, "history", "delete", cid).returncode == 0
    assert cid not in [c["id"] for c in ra_json(home, "history")]
    missing = ra(home, "history", "show", cid)
    assert missing.returncode != 0 and "no conversation" in missing.stderr


@pytest.mark.slow
def test_first_run_indexes_the_seeds(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-home"
    result = ra(fresh, "ask", "Which papers study multi-turn jailbreaks?", "--json")
    assert result.returncode == 0, result.stderr
    assert "indexing the shipped seed papers" in result.stderr
    data = json.loads(result.stdout)
    assert XTEAMING in {c["paper_id"] for c in data["citations"]}
