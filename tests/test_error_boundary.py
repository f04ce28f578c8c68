"""The one error boundary (issue 10): every expected failure of any layer is one line on
stderr and a non-zero exit, never a traceback. Real `ra` subprocesses, nothing configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.home_copy import copy_home


def ra(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("RA_", "OPENAI_"))}
    full.update({"RA_CONFIG": os.devnull, **env})
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str], code: int, *expected: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ra: error: ")
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture()
def home(seed_home: Path, tmp_path: Path) -> Path:
    return copy_home(seed_home, tmp_path / "home")


def test_embedding_backend_without_its_key(home: Path) -> None:
    one_line(ra("search", "x", env={"RA_HOME": str(home), "RA_EMBEDDING": "openai"}), 1)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"RA_CHUNK_TOKENS": "10"}, ("RA_CHUNK_TOKENS='10'", "environment RA_CHUNK_TOKENS", "32")),
        ({"RA_TOP_K": "abc"}, ("RA_TOP_K='abc'", "environment RA_TOP_K", "integer")),
        ({"RA_CHROMA_URL": "not a url"}, ("RA_CHROMA_URL", "not a URL")),
        ({"RA_CONFIG": "/nonexistent/ra.toml"}, ("RA_CONFIG", "does not exist")),
    ],
)
def test_bad_settings_name_the_setting_and_source(
    home: Path, env: dict[str, str], expected: tuple[str, ...]
) -> None:
    one_line(ra("papers", env={"RA_HOME": str(home), **env}), 1, *expected)


def test_bad_toml_file_names_the_file_and_line(home: Path, tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text('RA_TOP_K = 3\nRA_MODEL = "unclosed\n')
    result = ra("papers", env={"RA_HOME": str(home), "RA_CONFIG": str(toml)})
    one_line(result, 1, str(toml), "line 2")
    toml.write_text("RA_TOP_K = 0\n")
    result = ra("papers", env={"RA_HOME": str(home), "RA_CONFIG": str(toml)})
    one_line(result, 1, f"{toml}: RA_TOP_K")


def test_unwritable_home(tmp_path: Path) -> None:
    # Root ignores permission bits, so the home sits below a regular file instead.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_line(ra("papers", env={"RA_HOME": str(blocker / "home")}), 1, str(blocker))


@pytest.mark.parametrize(
    "args",
    [
        ["search", "x", "--k", "0"],
        ["search", "x", "--k", "-1"],
        ["search", "x", "--year", "2030..2020"],
        ["search", "   "],
        ["ask", "x", "--k", "0"],
        ["eval", "--concurrency", "0"],
    ],
)
def test_usage_errors_exit_2(home: Path, args: list[str]) -> None:
    one_line(ra(*args, env={"RA_HOME": str(home)}), 2)


@pytest.mark.parametrize("args", [["papers"], ["papers", "--json"], ["search", "safety"]])
def test_closed_stdout_ends_quietly(home: Path, args: list[str]) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("RA_", "OPENAI_"))}
    full.update({"RA_CONFIG": os.devnull, "RA_HOME": str(home)})
    command = " ".join([sys.executable, "-m", "shells.cli", *args]) + " | head -c 1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )
    assert result.stderr == ""
    assert result.returncode == 0
