"""Issue 11, case 5: a damaged or lost store is detected on open and repaired by
`ra ingest --reindex` (the broken store is moved aside, kept). Real `ra` subprocesses."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.home_copy import copy_home
from tests.reliability.helpers import env_for, one_error_line, ra

pytestmark = pytest.mark.slow


def _zero(db: Path) -> None:
    db.write_bytes(b"")


def _half(db: Path) -> None:
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 2)


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def _middle_pages(db: Path) -> None:
    """Header intact, pages behind it overwritten: only SQLite itself notices."""
    with open(db, "r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(os.urandom(db.stat().st_size // 2))


def _delete_folder(db: Path) -> None:
    shutil.rmtree(db.parent)


DAMAGE = {
    "zero": (_zero, "empty (0 bytes)"),
    "half": (_half, "truncated"),
    "garbage": (_garbage, "not a SQLite database"),
    "middle": (_middle_pages, "malformed"),
    "deleted": (_delete_folder, "missing"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_store_is_reported_and_reindex_recovers(
    case: str, seed_home: Path, tmp_path: Path
) -> None:
    home = copy_home(seed_home, tmp_path / "home")
    env = env_for(home)
    assert ra("search", "jailbreak", env=env).returncode == 0  # used before the damage
    damage, words = DAMAGE[case]
    damage(home / "chroma" / "chroma.sqlite3")

    check = ra("check", env=env)
    assert check.returncode == 1 and "Traceback" not in check.stderr
    assert words in check.stderr and "ra ingest --reindex" in check.stderr
    one_error_line(ra("search", "jailbreak", env=env), "damaged", words, "ra ingest --reindex")
    if case in ("zero", "deleted"):  # the cases that used to pass silently
        one_error_line(ra("papers", env=env), "damaged", "ra ingest --reindex")
        # A plain ingest never says "up to date" over a damaged store.
        one_error_line(ra("ingest", env=env), "damaged", "ra ingest --reindex")

    reindex = ra("ingest", "--reindex", "--json", env=env)
    assert reindex.returncode == 0, reindex.stderr
    report = json.loads(reindex.stdout)
    assert report["papers"] == 51
    if case != "deleted":
        moved = report["moved_aside"]
        assert moved and Path(moved).is_dir() and moved in reindex.stderr
        assert (Path(moved) / "chroma.sqlite3").exists()  # kept, not deleted
    search = ra("search", "multi-turn jailbreak", "--json", env=env)
    assert search.returncode == 0, search.stderr
    assert "2504.13203" in [h["paper_id"] for h in json.loads(search.stdout)[:2]]


def test_store_disagreeing_with_the_manifest(seed_home: Path, tmp_path: Path) -> None:
    """Chunks deleted behind the index's back: counts no longer agree."""
    home = copy_home(seed_home, tmp_path / "home")
    env = env_for(home)
    data = json.loads((home / "manifest-papers.json").read_text())
    data["chunks"] = data["chunks"] + 5
    (home / "manifest-papers.json").write_text(json.dumps(data))
    one_error_line(ra("search", "jailbreak", env=env), "manifest says", "ra ingest --reindex")
    check = ra("check", "--json", env=env)
    assert check.returncode == 1
    report = json.loads(check.stdout)
    assert not report["ok"] and any("manifest says" in p for p in report["problems"])
    assert ra("ingest", "--reindex", env=env).returncode == 0
    assert ra("check", env=env).returncode == 0
