"""Issue 11, case 4: `kill -9` of an ingest mid-write. Every read says the index is
incomplete and how to finish it; `ra ingest` finishes it, and the result equals a clean
ingest of the same files (same papers, same chunk ids and hashes)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.home_copy import copy_home
from tests.reliability.helpers import (
    corpus,
    env_for,
    manifest,
    paper_ids,
    ra,
    ra_popen,
    store_listing,
    wait_for,
)

pytestmark = pytest.mark.slow

N = 130  # three write batches of 64: killed after the first, two remain


def _kill_mid_write(home: Path, source: Path) -> dict[str, object]:
    """Start `ra ingest source`, kill -9 it once the journal shows chunks written."""
    proc = ra_popen("ingest", str(source), env=env_for(home))

    def written() -> bool:
        journal = (manifest(home) or {}).get("ingest") or {}
        return bool(journal.get("written")) and not (manifest(home) or {}).get("complete")

    try:
        wait_for(written, 600, "the journal to show written chunks")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    state = manifest(home)
    assert state is not None and state["complete"] is False
    return state


def _assert_reads_warn(home: Path, expected_papers: int) -> None:
    env = env_for(home)
    papers = ra("papers", "--json", env=env)
    assert papers.returncode == 0, papers.stderr
    assert len(json.loads(papers.stdout)) == expected_papers
    search = ra("search", "safety dialogue", "--json", env=env)
    assert search.returncode == 0, search.stderr
    ask = ra("ask", "Which papers study dialogue safety?", "--json", env=env)
    assert ask.returncode == 0, ask.stderr
    for result in (papers, search, ask):
        assert "Traceback" not in result.stderr
        assert "did not finish" in result.stderr and "run `ra ingest`" in result.stderr
    check = ra("check", env=env)
    assert check.returncode == 1 and "did not finish" in check.stderr


def test_killed_later_ingest_is_reported_then_finished(seed_home: Path, tmp_path: Path) -> None:
    home = copy_home(seed_home, tmp_path / "home")
    source = corpus(tmp_path / "big.jsonl", N, seed=11, prefix="Kappa")
    _kill_mid_write(home, source)
    # The last complete index (the seeds) is what readers get, with a warning.
    _assert_reads_warn(home, 51)

    finish = ra("ingest", "--json", env=env_for(home))  # no path: finish the interrupted one
    assert finish.returncode == 0, finish.stderr
    report = json.loads(finish.stdout)
    assert report["resumed"] and not report["nothing_changed"] and report["papers"] == 51 + N
    assert 0 < report["chunks_written"] < N  # only what the killed run had not written
    assert ra("check", env=env_for(home)).returncode == 0

    # A clean ingest of the same files in a new home gives the same index.
    clean = tmp_path / "clean"
    fresh = ra("ingest", "--json", env=env_for(clean))  # the seeds
    assert fresh.returncode == 0, fresh.stderr
    assert ra("ingest", str(source), env=env_for(clean)).returncode == 0
    assert paper_ids(home) == paper_ids(clean)
    assert store_listing(home) == store_listing(clean)
    again = ra("ingest", env=env_for(home))
    assert again.returncode == 0 and "up to date" in again.stdout


def test_killed_first_ingest_shows_what_is_there_and_finishes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = corpus(tmp_path / "big.jsonl", N, seed=12, prefix="Lambda")
    state = _kill_mid_write(home, source)
    assert state["revision"] is None  # nothing complete yet
    env = env_for(home)
    papers = ra("papers", "--json", env=env)
    assert papers.returncode == 0, papers.stderr
    shown = len(json.loads(papers.stdout))
    assert 0 < shown < N
    assert "did not finish" in papers.stderr and "written so far" in papers.stderr
    up = ra("ingest", env=env)
    assert up.returncode == 0, up.stderr
    assert "up to date" not in up.stdout and f"Indexed {N} papers" in up.stdout
    assert len(paper_ids(home)) == N  # the file's papers only: no seeds mixed in
    check = ra("check", "--json", env=env)
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["store_chunks"] == N
