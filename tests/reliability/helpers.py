"""Shared helpers for the reliability suite: `ra` subprocesses, generated corpora, polling."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORDS = [
    "model",
    "data",
    "safety",
    "dialogue",
    "agent",
    "reasoning",
    "language",
    "benchmark",
    "attack",
    "defense",
    "policy",
    "reward",
    "alignment",
    "training",
    "evaluation",
    "human",
    "feedback",
    "toxic",
    "social",
    "norms",
    "graph",
    "retrieval",
    "memory",
    "planning",
    "vision",
    "robot",
]


def env_for(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh user: only RA_HOME (and `extra`) configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RA_", "OPENAI_"))}
    env.update({"RA_HOME": str(home), "RA_CONFIG": os.devnull, **extra})
    return env


def ra_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "shells.cli", *args]


def ra(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `ra ARGS` to completion."""
    return subprocess.run(
        ra_cmd(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def ra_popen(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `ra ARGS` without waiting."""
    return subprocess.Popen(
        ra_cmd(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def corpus(path: Path, n: int, *, seed: int, prefix: str) -> Path:
    """`n` synthetic one-chunk papers as JSONL, distinct titles starting with `prefix`."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            abstract = " ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + "."
            row = {"title": f"{prefix} study {i}", "abstract": abstract, "year": 2020 + i % 5}
            fh.write(json.dumps(row) + "\n")
    return path


def manifest(home: Path) -> dict[str, Any] | None:
    """The manifest as JSON, or None while there is none (or it is being replaced)."""
    try:
        data: dict[str, Any] = json.loads((home / "manifest-papers.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The result failed with exactly one `ra: error:` line and no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ra: error: "), lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def paper_ids(home: Path) -> list[str]:
    out = ra("papers", "--json", env=env_for(home))
    assert out.returncode == 0, out.stderr
    return sorted(p["paper_id"] for p in json.loads(out.stdout))


def store_listing(home: Path) -> tuple[list[tuple[str, str]], str | None]:
    """Every chunk in the store as sorted (id, content hash), and the store's revision."""
    from assistant.config import load_settings
    from retrieval.index import PaperIndex

    index = PaperIndex(load_settings(home=home, chroma_url=None).retrieval())
    chunks = sorted((cid, str(meta.get("hash"))) for cid, _, meta in index.store.iter_chunks(False))
    return chunks, index.store.revision()
