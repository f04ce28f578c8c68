"""Shared fixtures: a real index over the seeds, built once per test session on a temp dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings, load_settings


@pytest.fixture(scope="session")
def seed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RA_HOME with the seeds indexed (embedded Chroma, the real MiniLM model)."""
    from retrieval.index import PaperIndex

    home = tmp_path_factory.mktemp("ra_home")
    settings = load_settings(home=home, chroma_url=None)
    PaperIndex(settings.retrieval()).ingest()
    return home


@pytest.fixture()
def seed_settings(seed_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at the shared seed index, offline model, no OpenAI variables."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RA_MODEL", "RA_CHROMA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RA_CONFIG", os.devnull)
    return load_settings(home=seed_home, model="offline")


@pytest.fixture(scope="session")
def seed_index(seed_home: Path) -> Iterator[object]:
    """The `retrieval.index.PaperIndex` over the seeds (read-only use, please)."""
    from retrieval.index import PaperIndex

    yield PaperIndex(load_settings(home=seed_home, chroma_url=None).retrieval())
