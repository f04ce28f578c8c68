"""A private copy of the session's seed RA_HOME (index only), for tests that write to it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def copy_home(seed_home: Path, dest: Path) -> Path:
    """Copy the indexed seed home to `dest` without any history; returns `dest`."""
    shutil.copytree(seed_home, dest, ignore=shutil.ignore_patterns("history.sqlite*"))
    return dest


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with nothing configured but RA_HOME (and `extra`)."""

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "RA_")) and k != "PYTHONPATH"
    }
    env.update({"RA_HOME": str(home), "RA_CONFIG": os.devnull})
    env.update(extra)
    return env


def run_ra(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`ra ARGS` as a user runs it: a subprocess with `clean_env(home, **env)`."""
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        cwd=Path(__file__).resolve().parents[1],
        env=clean_env(home, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
