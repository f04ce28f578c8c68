"""Issue 11, case 8 (store side): the Chroma server dying mid-ingest is one line, and a
re-run against the restarted server finishes the ingest. A real `chroma run` server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.reliability.helpers import (
    corpus,
    env_for,
    manifest,
    one_error_line,
    ra,
    ra_popen,
    wait_for,
)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("chroma server did not start") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def test_server_lost_mid_ingest_is_one_line_and_a_rerun_finishes(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "server-data"
    home = tmp_path / "home"
    env = env_for(home, RA_CHROMA_URL=f"http://127.0.0.1:{port}")
    source = corpus(tmp_path / "big.jsonl", 130, seed=21, prefix="Sigma")
    server = _start_server(data, port)
    try:
        ingest = ra_popen("ingest", "--no-progress", str(source), env=env)

        def written() -> bool:
            state = manifest(home) or {}
            return bool((state.get("ingest") or {}).get("written")) and not state.get("complete")

        try:
            wait_for(written, 600, "the journal to show written chunks")
        finally:
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        out, err = ingest.communicate(timeout=600)
        result = subprocess.CompletedProcess(ingest.args, ingest.returncode, out, err)
        one_error_line(result, "Chroma server", f"127.0.0.1:{port}")

        server = _start_server(data, port)
        finish = ra("ingest", "--json", env=env)
        assert finish.returncode == 0, finish.stderr
        report = json.loads(finish.stdout)
        assert report["resumed"] and report["papers"] == 130
        assert 0 < report["chunks_written"] < 130
        check = ra("check", "--json", env=env)
        assert check.returncode == 0, check.stdout
        assert json.loads(check.stdout)["store_chunks"] == 130
    finally:
        _stop(server)
