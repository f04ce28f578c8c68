"""Issue 11 cases 1, 2, 6 and 10 (ingest side) as a user meets them: `ra ingest` subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.home_copy import clean_env

REPO = Path(__file__).resolve().parents[2]
ESC, BEL = "\x1b", "\x07"

ZORBLAX = (
    "We introduce Zorblax, a streaming tokenizer for quasilinear grammars that parses "
    "Fennimore trees with bounded lookahead, and evaluate it on the Quibble benchmark."
)
TRAINS = (
    "Quantum annealers schedule freight trains across alpine passes; we benchmark twelve "
    "heuristics on timetables from three railway operators and report energy savings."
)
RUSSIAN = (
    "We study safety of large language models in multi-turn dialogues with adversarial "
    "users, and release a benchmark of annotated Russian conversations for evaluation."
)

ESCAPES = f"A title with {ESC}[1mescape codes{ESC}[0m must not reach the terminal raw."


def ra(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        cwd=REPO,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _rows(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.mark.slow
def test_ingest_reports_conflicts_keeps_text_and_cleans_titles(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(
        _rows(
            {"title": "Zorblax", "arxiv_id": "2401.00001", "abstract": ZORBLAX},
            {"title": "Обучение языковых моделей", "abstract": RUSSIAN},
            {"title": f"{ESC}]0;owned{BEL}Safe {ESC}[31mTitle\u202e", "abstract": ESCAPES},
        )
    )
    (corpus / "b.jsonl").write_text(
        _rows(
            {"title": "Alpine Trains", "arxiv_id": "2401.00001", "abstract": TRAINS + " More."},
            {"title": "Оценка диалоговых систем", "abstract": RUSSIAN},
        )
    )
    (corpus / "c.bib").write_text(
        "@article{pct,\n  title = {Percent},\n"
        "  abstract = {Classifiers miss 40% of attacks. Limitations: English only.}\n}\n"
    )
    home = tmp_path / "home"
    result = ra(home, "ingest", str(corpus), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    a, b = corpus / "a.jsonl", corpus / "b.jsonl"
    conflicts = [c["reason"] for c in report["conflicts"]]
    assert conflicts == [
        "same arXiv id 2401.00001, different abstracts",
        "near-identical abstracts (similarity 1.00), different titles",
    ]
    assert f"ra: {b}:1: conflicts with {a}:1 (same arXiv id 2401.00001, " in result.stderr
    assert report["merges"] == [] and report["papers"] == 6

    papers = json.loads(ra(home, "papers", "--json").stdout)
    by_title = {p["title"]: p for p in papers}
    # Nothing mixed: each conflicting record is its own paper, with its own text.
    assert by_title["Zorblax"]["abstract"] == ZORBLAX
    assert by_title["Alpine Trains"]["abstract"] == TRAINS + " More."
    assert by_title["Alpine Trains"]["paper_id"] == "2401.00001~2"
    assert {"Обучение языковых моделей", "Оценка диалоговых систем"} <= set(by_title)
    assert by_title["Percent"]["abstract"] == (
        "Classifiers miss 40% of attacks. Limitations: English only."
    )
    assert "Safe Title" in by_title
    assert "\\u001b" not in json.dumps(papers) and "\\u202e" not in json.dumps(papers)

    plain = ra(home, "ingest", str(corpus), "--reindex")
    assert plain.returncode == 0, plain.stderr
    lines = [ln for ln in plain.stderr.splitlines() if "conflicts with" in ln]
    assert len(lines) == 2 and all(ln.startswith("ra: ") for ln in lines)
