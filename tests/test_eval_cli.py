"""`ra eval` through a subprocess: the table, the reports, --json, bad input, the gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RA = [sys.executable, "-m", "shells.cli"]


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RA_MODEL", "RA_CHROMA_URL")
    }
    env.update(RA_HOME=str(home), RA_MODEL="offline", RA_CONFIG=os.devnull)
    return env


def _ra(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RA, *args], env=_env(home), capture_output=True, text=True, timeout=300, check=False
    )


def test_eval_cli_writes_reports_and_passes_a_gate(seed_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = _ra(seed_home, "eval", "--limit", "4", "--out", str(out), "--concurrency", "2")
    assert proc.returncode == 0, proc.stderr
    assert "recall@5" in proc.stdout and "citation_validity" in proc.stdout
    for name in ("report.json", "report.md", "timings.json"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["name"] == "seed.jsonl" and report["counts"]["items"] == 4

    thresholds = tmp_path / "t.json"
    thresholds.write_text(json.dumps({"metrics": {"recall@5": {"min": 0.5}}}))
    gate = [sys.executable, "-m", "evals.gate", str(out / "report.json")]
    ok = subprocess.run(
        [*gate, "--thresholds", str(thresholds)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    thresholds.write_text(json.dumps({"metrics": {"recall@5": {"min": 1.01}}}))
    bad = subprocess.run(
        [*gate, "--thresholds", str(thresholds)], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1 and "FAIL recall@5" in bad.stderr

    # --json: one JSON document on stdout; --baseline: a comparison section.
    proc = _ra(
        seed_home, "eval", "--limit", "4", "--out", str(tmp_path / "b"),
        "--baseline", str(out / "report.json"), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["comparison"]["regressed"] == [] and doc["headline"] == report["headline"]
    assert (tmp_path / "b" / "report.json").read_text() == json.dumps(
        doc, indent=2, ensure_ascii=False
    ) + "\n"


def test_eval_cli_bad_input(seed_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "category": "x", "question": "q?", "gold": ["p"]}\n{oops\n')
    proc = _ra(seed_home, "eval", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert f"{bad}:2: invalid JSON" in proc.stderr

    proc = _ra(seed_home, "eval", "--misbehave", "nope")
    # A bad option value is a usage error (issue 10): exit 2.
    assert proc.returncode == 2 and "unknown misbehaviour" in proc.stderr

    missing = tmp_path / "benchmarks"
    proc = _ra(seed_home, "eval", "--beir", str(missing))
    assert proc.returncode == 1 and f"no BEIR folder at {missing}" in proc.stderr
    missing.mkdir()
    proc = _ra(seed_home, "eval", "--beir", str(missing))
    assert proc.returncode == 1 and "holds no BEIR dataset" in proc.stderr
