"""Issue 11, case 3: one writer at a time (a lock on RA_HOME); readers see the last complete
state; nothing is lost or removed by the next ingest. Real `ra` subprocesses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from filelock import FileLock

from tests.home_copy import copy_home
from tests.reliability.helpers import (
    corpus,
    env_for,
    manifest,
    paper_ids,
    ra,
    ra_popen,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_two_ingests_on_a_new_home_keep_both_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = corpus(tmp_path / "a.jsonl", 40, seed=1, prefix="Alpha")
    b = corpus(tmp_path / "b.jsonl", 40, seed=2, prefix="Beta")
    env = env_for(home)
    procs = [ra_popen("ingest", "--json", str(f), env=env) for f in (a, b)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert "Traceback" not in err
        assert json.loads(out)["removed"] == 0

    ids = paper_ids(home)
    assert len(ids) == 80
    assert sum(i.startswith("alpha-study") for i in ids) == 40
    assert sum(i.startswith("beta-study") for i in ids) == 40

    again = ra("ingest", "--json", str(a), env=env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["removed"] == 0 and report["papers"] == 80 and report["nothing_changed"]
    assert paper_ids(home) == ids


def test_a_second_ingest_waits_with_a_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    source = corpus(tmp_path / "c.jsonl", 3, seed=3, prefix="Gamma")
    held = FileLock(str(home / ".ra-ingest.lock"))
    held.acquire()
    try:
        proc = ra_popen("ingest", str(source), env=env_for(home))
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the waiting message is written
        assert "another ingest is writing to" in line and "waiting" in line, line
        time.sleep(0.5)
        assert proc.poll() is None, "it must wait while the lock is held"
    finally:
        held.release()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Indexed 3 papers" in out


def test_ingest_and_ask_on_a_new_home(tmp_path: Path) -> None:
    """`ra ask` seeds an empty index on first use: under the same lock as the ingest."""
    home = tmp_path / "home"
    source = corpus(tmp_path / "d.jsonl", 30, seed=4, prefix="Delta")
    env = env_for(home)
    ingest = ra_popen("ingest", "--json", str(source), env=env)
    ask = ra_popen("ask", "Which papers study multi-turn jailbreaks?", "--json", env=env)
    for proc in (ingest, ask):
        _out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "already exists" not in err
    ids = paper_ids(home)
    delta = [i for i in ids if i.startswith("delta-study")]
    assert len(delta) == 30
    # Either ask seeded first (seeds + file) or the file came first (then no seeding).
    assert len(ids) in (30, 81)
    again = ra("ingest", "--json", str(source), env=env)
    assert json.loads(again.stdout)["removed"] == 0
    assert paper_ids(home) == ids


def test_readers_during_an_ingest_see_the_last_complete_index(
    seed_home: Path, tmp_path: Path
) -> None:
    home = copy_home(seed_home, tmp_path / "home")
    source = corpus(tmp_path / "e.jsonl", 130, seed=5, prefix="Epsilon")
    env = env_for(home)
    ingest = ra_popen("ingest", str(source), env=env)
    try:
        wait_for(lambda: (manifest(home) or {}).get("complete") is False, 300, "ingest start")
        papers = ra("papers", "--json", env=env)
        search = ra("search", "multi-turn jailbreak", "--json", env=env)
    finally:
        _out, err = ingest.communicate(timeout=600)
    assert ingest.returncode == 0, err
    assert papers.returncode == 0, papers.stderr
    shown = len(json.loads(papers.stdout))
    if "an ingest is running" in papers.stderr:
        assert shown == 51  # the last complete state, never a partial one
    else:
        assert shown == 181  # the ingest had finished before the reader looked
    assert search.returncode == 0, search.stderr
    assert "2504.13203" in [h["paper_id"] for h in json.loads(search.stdout)[:3]]
    assert len(paper_ids(home)) == 181
