"""Integration: a real `chroma run` server on a free loopback port, used via RA_CHROMA_URL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    proc = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server-data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ra(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ingest_and_search_through_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(RA_HOME=str(tmp_path / "home"), RA_CHROMA_URL=chroma_server)

    ingest = _ra(["ingest", "--json"], env)
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["papers"] == 51
    # Nothing stored locally: the embedded store was not used.
    assert not (tmp_path / "home" / "chroma").exists()

    search = _ra(["search", "multi-turn jailbreak", "--json"], env)
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)
    assert "2504.13203" in [h["paper_id"] for h in hits[:2]]

    again = _ra(["ingest", "--json"], env)
    assert json.loads(again.stdout)["chunks_written"] == 0

    # The server holds the data: a fresh RA_HOME (no manifest, no cache) still finds it.
    env["RA_HOME"] = str(tmp_path / "other-home")
    papers = _ra(["papers", "--json"], env)
    assert papers.returncode == 0, papers.stderr
    assert len(json.loads(papers.stdout)) == 51


def test_unreachable_server_gives_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(RA_HOME=str(tmp_path), RA_CHROMA_URL=f"http://127.0.0.1:{_free_port()}")
    result = _ra(["search", "anything"], env)
    assert result.returncode != 0
    assert "Chroma server" in result.stderr and "Traceback" not in result.stderr


def test_a_second_client_syncs_only_what_changed(chroma_server: str, tmp_path: Path) -> None:
    """Client B caches the collection once; after client A adds papers, B fetches only the
    chunks written since (by write sequence number) and drops removed ones."""
    from assistant.config import load_settings
    from retrieval.index import PaperIndex
    from retrieval.models import Paper

    def index(home: str) -> PaperIndex:
        return PaperIndex(load_settings(home=tmp_path / home, chroma_url=chroma_server).retrieval())

    writer = index("a")
    writer.ingest()
    seeds = writer.papers()
    reader = index("b")
    assert len(reader.papers()) == 51  # first open: the whole collection, cached
    synced = tmp_path / "b" / "cache" / "papers" / "revisions" / "synced.json"
    first = json.loads(synced.read_text())

    abstract = "Okapi grazing patterns explain lexical retrieval."
    extra = Paper(paper_id="okapi-1", title="Okapi grazing", abstract=abstract, year=2025)
    writer.ingest_papers([*seeds[1:], extra])
    reader = index("b")  # a new process of client B

    fetched: list[object] = []
    real = reader.store.iter_full

    def spy(*args: object, **kwargs: object) -> object:
        fetched.append(kwargs.get("where"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    reader.store.iter_full = spy  # type: ignore[method-assign]
    ids = {p.paper_id for p in reader.papers()}
    assert "okapi-1" in ids and seeds[0].paper_id not in ids and len(ids) == 51
    assert fetched and all(w is not None for w in fetched)  # never the whole collection
    second = json.loads(synced.read_text())
    assert second["seq"] > first["seq"] and second["revision"] == writer.status().revision
    assert reader.search("okapi grazing", k=1)[0].paper_id == "okapi-1"
