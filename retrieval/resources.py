"""Locate files the retrieval layer ships (seeds, encoding data) in a checkout or a wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent
_REPO = _PKG.parent


def data_dir() -> Path:
    """The retrieval package's bundled data (BPE encoding file)."""
    return _PKG / "data"


def seeds_dir() -> Path:
    """The shipped seed documents: `seeds/` in a checkout, `retrieval/_seeds` in a wheel."""
    packaged = _PKG / "_seeds"
    return packaged if packaged.is_dir() else _REPO / "seeds"


def seed_files() -> list[Path]:
    """The seed documents, in a stable order."""
    return sorted(p for p in seeds_dir().iterdir() if p.is_file() and not p.name.startswith("."))
